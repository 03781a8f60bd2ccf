#!/usr/bin/env bash
# Builds lib/libzootorch.so, zoo's TorchScript shim (torch/shim), against
# Debian's libtorch (apt-get install libtorch-dev). zoo loads it at run time
# with dlopen, so zoo builds and starts without it; where libtorch is not
# installed this script says so and succeeds. `make build` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_INCLUDE=${TORCH_INCLUDE:-/usr/include/torch}
out=lib/libzootorch.so
src=(torch/shim/zootorch.cc torch/shim/zootorch.h scripts/build-torch-shim.sh)

if [[ ! -d $TORCH_INCLUDE ]]; then
  echo "build-torch-shim: $TORCH_INCLUDE not found; skipping the TorchScript shim (zoo runs ONNX only; apt-get install libtorch-dev, then make build)"
  exit 0
fi

CXX=${CXX:-g++}
if ! command -v "$CXX" >/dev/null; then
  echo "build-torch-shim: libtorch is installed but the C++ compiler $CXX is not (apt-get install g++)" >&2
  exit 1
fi

# Up to date?
if [[ -f $out ]]; then
  fresh=1
  for f in "${src[@]}"; do [[ $f -nt $out ]] && fresh=0; done
  ((fresh)) && exit 0
fi

echo "build-torch-shim: compiling $out (about 10 s)"
mkdir -p lib
tmp=$(mktemp lib/.libzootorch.XXXXXX)
trap 'rm -f "$tmp"' EXIT
"$CXX" -shared -fPIC -std=c++17 -O2 -D_GLIBCXX_USE_CXX11_ABI=1 \
  -Wall -Wno-unused-parameter \
  -I"$TORCH_INCLUDE" -I"$TORCH_INCLUDE/csrc/api/include" \
  -o "$tmp" torch/shim/zootorch.cc \
  -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 -Wl,--as-needed \
  -Wl,-z,defs -Wl,-soname,libzootorch.so
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "build-torch-shim: built $out"
