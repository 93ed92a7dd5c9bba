#!/bin/sh
# Builds the Debian package from this source tree: build/scanwatch_VERSION_ARCH.deb (debian/,
# dpkg-buildpackage, binary only, unsigned), then runs lintian on it. Needs the build
# dependencies (scripts/install-deps.sh installs them). Uses ccache when it is installed.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
out="$src/build"
mkdir -p "$out"
# A fixed place, so that ccache hits (the compiler flags name the source folder).
work="$out/deb"
rm -rf "$work"
mkdir -p "$work"
# A copy without build trees: dpkg-buildpackage writes the .deb next to the source folder.
mkdir "$work/scanwatch"
tar -C "$src" --exclude='./build*' --exclude=./.git --exclude='./obj-*' -cf - . | tar -C "$work/scanwatch" -xf -
launcher=""
if command -v ccache >/dev/null 2>&1; then
    launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
    export CCACHE_BASEDIR="$work/scanwatch"
fi
(cd "$work/scanwatch" && SCANWATCH_CMAKE_ARGS="$launcher" DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=2}" \
    dpkg-buildpackage -b -uc -us --no-sign >"$work/build.log" 2>&1) || {
    tail -40 "$work/build.log" >&2
    rm -rf "$work/scanwatch"
    echo "package: dpkg-buildpackage failed (log above)" >&2
    exit 1
}
rm -rf "$work/scanwatch"
deb=$(ls "$work"/scanwatch_*.deb)
cp "$deb" "$out/"
echo "package: $out/$(basename "$deb")"
if command -v lintian >/dev/null 2>&1; then
    lintian --fail-on error "$out/$(basename "$deb")"
fi
