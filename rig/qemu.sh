# SPDX-License-Identifier: GPL-2.0-only
# Sourced by rig.sh: QEMU 10.0.2 from Debian's bookworm-backports source,
# with qemu/patches/ applied, built for x86_64-softmmu only into
# $CACHE/qemu-$QEMU_VERSION. The test VM runs it from the host's root over
# virtio-9p, so it is built against the host's libraries.
#
# The machine's apt configuration is left alone: a private sources list,
# package lists and cache under $QEMU_DIR/apt. The source package's .dsc
# and debian.tar.xz are not served (404) and apt-get source then fails,
# but the upstream tarball arrives. It must match the SHA-256 pinned here,
# which the Sources index must agree with; once backports moves past this
# version, the tarball still comes from Debian's pool (trixie ships the
# same one). The +ds tarball has no bundled Python wheels, and QEMU 10
# needs meson >= 1.5 (Debian 12 has 1.0) and pycotap (not in Debian 12):
# both come from backports too, unpacked, never installed.

QEMU_VERSION=10.0.2
QEMU_DIR=$CACHE/qemu-$QEMU_VERSION
QEMU_TARBALL=$QEMU_DIR/qemu_$QEMU_VERSION+ds.orig.tar.xz
QEMU_SHA256=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1
QEMU_POOL=http://deb.debian.org/debian/pool/main/q/qemu
QEMU_BIN=$QEMU_DIR/build/qemu-system-x86_64
# Only what the tests drive: TCG, q35, vfio-pci, qtest, the iommufd backend
QEMU_CONFIGURE="--python=/usr/bin/python3 --target-list=x86_64-softmmu
	--without-default-features --disable-docs --disable-tools --disable-werror
	--disable-download --enable-fdt=system --disable-install-blobs
	--disable-debug-info"
QEMU_PYDEPS="meson python3-pycotap"

qemu_apt() {
	apt-get -q -o APT::Sandbox::User=root \
		-o Dir::Etc::sourcelist="$QEMU_DIR/apt/sources.list" \
		-o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$QEMU_DIR/apt/lists" \
		-o Dir::Cache="$QEMU_DIR/apt/cache" "$@"
}

qemu_fetch() {
	local sum p
	[ -f "$QEMU_TARBALL" ] && [ -f "$QEMU_DIR/pydeps/stamp" ] && return 0
	say "fetching QEMU $QEMU_VERSION's source and build tools from bookworm-backports"
	mkdir -p "$QEMU_DIR"/apt/{lists/partial,cache/archives/partial}
	cat > "$QEMU_DIR/apt/sources.list" <<-EOF
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
	deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
	EOF
	qemu_apt update >/dev/null || die "apt-get update (bookworm-backports) failed"
	sum=$(qemu_apt_cache showsrc qemu | awk -v f="${QEMU_TARBALL##*/}" '
		/^Checksums-Sha256:/ { in_sums = 1; next }
		/^[^ ]/ { in_sums = 0 }
		in_sums && $3 == f { print $1 }')
	[ -z "$sum" ] || [ "$sum" = "$QEMU_SHA256" ] ||
		die "bookworm-backports' QEMU $QEMU_VERSION is not the tarball pinned"
	if [ -n "$sum" ] && [ ! -f "$QEMU_TARBALL" ]; then
		# Fails on the .dsc; the tarball is what we want
		(cd "$QEMU_DIR" && qemu_apt source --download-only qemu \
			>/dev/null 2>&1) || true
	fi
	if [ ! -f "$QEMU_TARBALL" ]; then
		curl -fsSL -o "$QEMU_TARBALL" "$QEMU_POOL/${QEMU_TARBALL##*/}" ||
			{ rm -f "$QEMU_TARBALL"; die "no QEMU $QEMU_VERSION tarball in Debian's pool"; }
	fi
	echo "$QEMU_SHA256  $QEMU_TARBALL" | sha256sum -c --quiet ||
		{ rm -f "$QEMU_TARBALL"; die "QEMU tarball checksum mismatch"; }
	rm -rf "${QEMU_DIR:?}/pydeps"
	rm -f "$QEMU_DIR"/apt/*.deb
	for p in $QEMU_PYDEPS; do
		(cd "$QEMU_DIR/apt" && qemu_apt download "$p/bookworm-backports" \
			>/dev/null 2>&1) || die "no $p in bookworm-backports"
		dpkg -x "$QEMU_DIR"/apt/"$p"_*.deb "$QEMU_DIR/pydeps" ||
			die "cannot unpack $p"
	done
	touch "$QEMU_DIR/pydeps/stamp"
}

qemu_apt_cache() {
	apt-cache -o Dir::Etc::sourcelist="$QEMU_DIR/apt/sources.list" \
		-o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$QEMU_DIR/apt/lists" \
		-o Dir::Cache="$QEMU_DIR/apt/cache" "$@"
}

# Rebuild only when the tarball, the patches, this recipe or the build
# tools it unpacked change
qemu_build() {
	local stamp start=$SECONDS p
	qemu_fetch
	stamp=$( { sha256sum "$QEMU_TARBALL" | cut -d' ' -f1
		cat "$REPO"/qemu/patches/*.patch 2>/dev/null || true
		cat "$REPO/rig/qemu.sh"
		ls "$QEMU_DIR"/apt/*.deb; } | sha256sum | cut -d' ' -f1)
	if [ -x "$QEMU_BIN" ] && [ "$(cat "$QEMU_DIR/stamp" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	say "building QEMU $QEMU_VERSION (x86_64-softmmu) in $QEMU_DIR (cold ~8 min)"
	rm -rf "${QEMU_DIR:?}/src" "$QEMU_DIR/build" "$QEMU_DIR/stamp"
	mkdir -p "$QEMU_DIR/src" "$QEMU_DIR/build"
	tar xJf "$QEMU_TARBALL" -C "$QEMU_DIR/src" --strip-components=1
	for p in "$REPO"/qemu/patches/*.patch; do
		[ -f "$p" ] || continue
		patch -s -p1 -d "$QEMU_DIR/src" < "$p" ||
			die "QEMU patch $(basename "$p") does not apply"
	done
	# The +ds tarball has no firmware, but QEMU unpacks its edk2 images
	# whenever it finds bzip2: build with a PATH that has everything of
	# /usr/bin but bzip2
	rm -rf "${QEMU_DIR:?}/bin"
	mkdir -p "$QEMU_DIR/bin"
	ln -s /usr/bin/* "$QEMU_DIR/bin/"
	rm -f "$QEMU_DIR/bin/bzip2"
	# shellcheck disable=SC2086
	(cd "$QEMU_DIR/build" &&
		export PATH="$QEMU_DIR/pydeps/usr/bin:$QEMU_DIR/bin:/usr/sbin" \
		PYTHONPATH="$QEMU_DIR/pydeps/usr/lib/python3/dist-packages" &&
		../src/configure $QEMU_CONFIGURE &&
		ninja -j"$JOBS" qemu-system-x86_64) > "$QEMU_DIR/build.log" 2>&1 ||
		{ tail -30 "$QEMU_DIR/build.log"; die "QEMU build failed, see $QEMU_DIR/build.log"; }
	echo "$stamp" > "$QEMU_DIR/stamp"
	say "QEMU built in $((SECONDS - start)) s"
}
