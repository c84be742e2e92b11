#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR and builds tests/packaging/consumer.cc against it
# twice: with pkg-config (strata.pc) and with CMake find_package(strata). Prints what it
# checked; exits non-zero on the first failure. Skips (exit 77) if cmake is missing.
set -euo pipefail
build=$1
src=$2
sanitize=${3:-none}
if [ "$sanitize" != none ]; then
  # Consumers built here are not instrumented and cannot link a sanitized libstrata.
  echo "sanitized build ($sanitize): packaging checks run in the plain build only"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/root
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
root=$dest$prefix
for f in "$root/include/strata/model/labels.h" "$root/$libdir/pkgconfig/strata.pc" \
         "$root/$libdir/cmake/strata/strataConfig.cmake" \
         "$root/$libdir/cmake/strata/strataConfigVersion.cmake"; do
  [ -f "$f" ] || { echo "missing installed file $f"; exit 1; }
done

# pkg-config: the .pc file is written for $prefix; point pkg-config at the DESTDIR copy.
export PKG_CONFIG_PATH=$root/$libdir/pkgconfig
flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs strata)
c++ -std=c++20 "$src/tests/packaging/consumer.cc" $flags -o "$work/consumer-pc" \
  -Wl,-rpath,"$root/$libdir"
"$work/consumer-pc" | grep -q '__name__="up"'
echo "pkg-config consumer: ok"

if ! command -v cmake >/dev/null; then
  echo "cmake not installed: skipping the find_package check"
  exit 77
fi
cmake -S "$src/tests/packaging/cmake" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$root" \
  -DCMAKE_BUILD_RPATH="$root/$libdir" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer" | grep -q '__name__="up"'
echo "cmake find_package consumer: ok"

# meson: strata as a subproject, through dependency('strata') and override_dependency.
mkdir -p "$work/meson/subprojects"
cp "$src/tests/packaging/meson/meson.build" "$work/meson/"
cp "$src/tests/packaging/consumer.cc" "$work/"
ln -s "$src" "$work/meson/subprojects/strata"
# The pkg-config check above exported PKG_CONFIG_PATH: without unsetting it, dependency()
# would find that installed copy instead of the subproject.
unset PKG_CONFIG_PATH
meson setup "$work/meson-build" "$work/meson" --wrap-mode=nodownload -Dbuildtype=plain \
  --force-fallback-for=strata \
  -Dstrata:tests=false -Dstrata:benchmarks=false -Dstrata:examples=false >"$work/meson.log" 2>&1 \
  || { cat "$work/meson.log"; exit 1; }
ninja -C "$work/meson-build" consumer >"$work/ninja.log" 2>&1 || { tail -40 "$work/ninja.log"; exit 1; }
grep -q "Subproject strata" "$work/meson.log" || { echo "strata was not built as a subproject"; exit 1; }
"$work/meson-build/consumer" | grep -q '__name__="up"'
echo "meson subproject consumer: ok"
