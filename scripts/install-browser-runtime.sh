#!/usr/bin/env bash
# install-browser-runtime.sh — install what zoo's model pages need to run a
# model in the visitor's browser, into browser-runtime/ in the project root
# (gitignored; zoo finds it there or beside its executable, see
# browserrun.FindRuntime, and serves it at /browser-runtime/):
#
#   ort/    ONNX Runtime Web (npm onnxruntime-web, pinned version, the npm
#           tarball checked against a pinned sha256): the WASM build and the
#           WebGPU build, their JavaScript loaders and LICENSE
#   zoo.wasm, wasm_exec.js
#           zoo's own runner (cmd/zoo-wasm: the image codecs, processing,
#           size rules and tiling) compiled with GOOS=js GOARCH=wasm, and
#           Go's loader for it
#   *.gz    the same files gzipped (served to browsers that accept gzip)
#   MANIFEST  sha256 and size of every file; zoo names its URLs after it
#
# Run by make build. Without npm it installs nothing and says so: the pages
# then run every model on the server and tell the visitor why. A tarball
# whose checksum differs is refused (exit 1). Idempotent.
set -euo pipefail

ORTWEB_VERSION=1.30.0
ORTWEB_TGZ_SHA256=d2228df7e4616bc3348bf504ee888f3bec43789a273f0a63f3e68d203ce3bf71
ORTWEB_FILES=(
	ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm
	ort.webgpu.min.js ort-wasm-simd-threaded.asyncify.mjs ort-wasm-simd-threaded.asyncify.wasm
)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="${1:-$root/browser-runtime}"
GO="${GO:-go}"

say() { echo "install-browser-runtime: $*" >&2; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ONNX Runtime Web, once per version.
stamp="$dest/ort/.installed"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$ORTWEB_VERSION $ORTWEB_TGZ_SHA256" ]]; then
	if ! command -v npm >/dev/null; then
		say "npm is not installed (apt-get install npm): models will run on the server only, not in visitors' browsers"
		exit 0
	fi
	say "fetching onnxruntime-web@$ORTWEB_VERSION (about 33 MB)"
	if ! (cd "$tmp" && npm pack --silent "onnxruntime-web@$ORTWEB_VERSION" >/dev/null); then
		say "npm pack onnxruntime-web@$ORTWEB_VERSION failed: models will run on the server only"
		exit 0
	fi
	tgz="$tmp/onnxruntime-web-$ORTWEB_VERSION.tgz"
	got=$(sha256 "$tgz")
	if [[ "$got" != "$ORTWEB_TGZ_SHA256" ]]; then
		say "CHECKSUM MISMATCH for onnxruntime-web-$ORTWEB_VERSION.tgz:
  expected $ORTWEB_TGZ_SHA256
  got      $got
refusing to install it"
		exit 1
	fi
	members=()
	for f in "${ORTWEB_FILES[@]}"; do members+=("package/dist/$f"); done
	tar -xzf "$tgz" -C "$tmp" "${members[@]}" package/README.md
	rm -rf "$dest/ort.new" && mkdir -p "$dest/ort.new"
	for f in "${ORTWEB_FILES[@]}"; do install -m 0644 "$tmp/package/dist/$f" "$dest/ort.new/$f"; done
	# The package's licence (MIT) is stated in its package.json and README.
	printf 'onnxruntime-web %s (npm), MIT License, Copyright (c) Microsoft Corporation.\nhttps://github.com/microsoft/onnxruntime\n' "$ORTWEB_VERSION" >"$dest/ort.new/LICENSE.txt"
	echo "$ORTWEB_VERSION $ORTWEB_TGZ_SHA256" >"$dest/ort.new/.installed"
	rm -rf "$dest/ort" && mv "$dest/ort.new" "$dest/ort"
	say "installed ONNX Runtime Web $ORTWEB_VERSION in $dest/ort"
fi

# zoo's runner, every build (the Go build cache makes an unchanged one quick).
(cd "$root" && GOOS=js GOARCH=wasm "$GO" build -trimpath -ldflags="-s -w" -o "$tmp/zoo.wasm" ./cmd/zoo-wasm)
goroot=$("$GO" env GOROOT)
execjs="$goroot/lib/wasm/wasm_exec.js"
[[ -f "$execjs" ]] || execjs="$goroot/misc/wasm/wasm_exec.js"
cp "$execjs" "$tmp/wasm_exec.js"
for f in zoo.wasm wasm_exec.js; do
	if ! cmp -s "$tmp/$f" "$dest/$f"; then
		install -m 0644 "$tmp/$f" "$dest/$f.tmp.$$" && mv -f "$dest/$f.tmp.$$" "$dest/$f"
	fi
done

# Gzipped copies (deterministic: no name or time in the header) and the
# manifest.
files=(zoo.wasm wasm_exec.js)
for f in "${ORTWEB_FILES[@]}" LICENSE.txt; do files+=("ort/$f"); done
: >"$tmp/MANIFEST"
for f in "${files[@]}"; do
	if [[ "$f" != *.txt && ( ! -f "$dest/$f.gz" || "$dest/$f" -nt "$dest/$f.gz" ) ]]; then
		gzip -6 -n -c "$dest/$f" >"$dest/$f.gz.tmp" && mv -f "$dest/$f.gz.tmp" "$dest/$f.gz"
	fi
	echo "$(sha256 "$dest/$f") $(stat -c %s "$dest/$f") $f" >>"$tmp/MANIFEST"
done
cmp -s "$tmp/MANIFEST" "$dest/MANIFEST" || mv -f "$tmp/MANIFEST" "$dest/MANIFEST"
