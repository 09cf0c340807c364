#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Where the kernel spends a benchmark's time, per stack and operation.

Reads `perf script -F comm,tid,time,ip,sym` of a system-wide `perf record
-g` of ioasid_bench_vtd (rig.sh profile) on standard input. Each sample of
the benchmark's own process is put down to the stack whose ioctl it is in
(vfio type1, the vfio container shim, iommufd or /dev/ioasid) and to the
operation (map, unmap, ...) by the functions on its call chain; the
teardown of a benchmark context's mappings when its fds are closed counts
as "close" of its stack. For each group: its share of the samples, the
functions that were running (self) with the chains that called them, and
the functions on the chain (inclusive). Samples outside both (user space,
page faults of the buffer, the benchmark's setup) are counted apart.

vfio type1's handlers of MAP and UNMAP are inlined into its ioctl: only
the parts below them that are functions of their own (pinning, iommu_map,
removing a mapping) tell a type1 MAP from an UNMAP, and its search and
insert in the tree of mappings count as "type1 other".

Figures are shares of samples, not times: a group's absolute time is the
benchmark's own figure for it.
"""

import collections
import re
import sys

# (stack, a function of its ioctl path); the first match wins, so the shim,
# which goes through ioasid_fops_ioctl too, comes before ioasid
STACKS = (
    ("shim", "ioasid_vfio_ioctl"),
    ("ioasid", "ioasid_fops_ioctl"),
    ("iommufd", "iommufd_fops_ioctl"),
    ("type1", "vfio_fops_unl_ioctl"),
)

# Where each stack lets go of a context's mappings when its fds close:
# type1 and the shim when the group leaves the container
RELEASES = (
    ("shim", "ioasid_vfio_del_group"),
    ("ioasid", "ioasid_fops_release"),
    ("iommufd", "iommufd_fops_release"),
    ("type1", "vfio_iommu_type1_detach_group"),
)

# Per stack, (operation, functions of which one must be on the chain)
OPS = {
    "type1": (
        ("unmap", ("vfio_remove_dma", "vfio_unmap_unpin")),
        ("map", ("vfio_pin_pages_remote", "iommu_map")),
    ),
    "shim": (
        ("unmap", ("ioasid_ioas_unmap_range",)),
        ("map", ("ioasid_ioas_map_user",)),
    ),
    "ioasid": (
        ("unmap", ("ioasid_ioas_unmap",)),
        ("map", ("ioasid_ioas_map",)),
        ("copy", ("ioasid_ioas_copy",)),
        ("test op", ("ioasid_test_cmd",)),
    ),
    "iommufd": (
        ("unmap", ("iommufd_ioas_unmap",)),
        ("map", ("iommufd_ioas_map",)),
        ("copy", ("iommufd_ioas_copy",)),
    ),
}

TOP_SELF = 25
TOP_CALLERS = 2
TOP_INCLUSIVE = 30


def classify(chain):
    """(stack, operation) of a call chain, innermost function first"""
    funcs = set(chain)
    for stack, entry in STACKS:
        if entry not in funcs:
            continue
        for op, marks in OPS[stack]:
            if funcs.intersection(marks):
                return stack, op
        return stack, "other"
    for stack, release in RELEASES:
        if release in funcs:
            return stack, "close"
    return "outside any ioctl or close", ""


def samples(lines):
    """Yield (comm, chain) per sample of perf script's output"""
    comm, chain = None, []
    for line in lines:
        if not line.strip():
            if comm is not None:
                yield comm, chain
            comm, chain = None, []
            continue
        if not line[0].isspace():
            comm = line.split()[0]
            chain = []
            continue
        fields = line.split()
        if len(fields) >= 2:
            chain.append(re.sub(r"\+0x[0-9a-f]+$", "", fields[1]))
    if comm is not None:
        yield comm, chain


def main():
    total = 0
    groups = collections.defaultdict(lambda: {
        "n": 0,
        "self": collections.Counter(),
        "callers": collections.defaultdict(collections.Counter),
        "incl": collections.Counter(),
    })
    for comm, chain in samples(sys.stdin):
        if not comm.startswith("ioasid_bench") or not chain:
            continue
        total += 1
        g = groups[classify(chain)]
        g["n"] += 1
        g["self"][chain[0]] += 1
        g["callers"][chain[0]][" < ".join(chain[1:3])] += 1
        for func in set(chain):
            g["incl"][func] += 1
    if not total:
        print("# profile: no sample of the benchmark")
        return 1
    print(f"# profile: {total} samples of the benchmark's process")
    for (stack, op), g in sorted(groups.items(),
                                  key=lambda item: -item[1]["n"]):
        n = g["n"]
        print(f"\n## {' '.join(filter(None, (stack, op)))}: {n} samples, "
              f"{100.0 * n / total:.1f}% of all")
        if (stack, op) == ("type1", "other"):
            print("# type1's MAP and UNMAP handlers are inlined into its "
                  "ioctl: their search and insert in its tree land here")
        print("# self: share of the group, function < its callers")
        for func, count in g["self"].most_common(TOP_SELF):
            print(f"{100.0 * count / n:5.1f}%  {func}")
            for callers, c in g["callers"][func].most_common(TOP_CALLERS):
                if callers:
                    print(f"        {100.0 * c / n:5.1f}%  < {callers}")
        print("# inclusive: share of the group with the function on the chain")
        for func, count in g["incl"].most_common(TOP_INCLUSIVE):
            print(f"{100.0 * count / n:5.1f}%  {func}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
