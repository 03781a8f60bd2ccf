#!/usr/bin/env bash
# install-onnxruntime.sh — install the ONNX Runtime shared library zoo runs
# models with, at lib/libonnxruntime.so.1 in the project root (gitignored).
#
# The library comes from the npm package onnxruntime-node (which ships the
# official Linux x64 CPU build of ONNX Runtime) and is checked against a pinned
# sha256, so every machine runs the same bytes.
#
# Idempotent: when lib/libonnxruntime.so.1 is already there with the right
# checksum, it does nothing.
#
# Operators with their own build set ZOO_ONNXRUNTIME_LIB to its path; the
# script then only checks that the file exists and installs nothing, and zoo
# loads that file at run time (it must serve ORT C API version 24, i.e.
# ONNX Runtime >= 1.24).
set -euo pipefail

ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/lib/libonnxruntime.so.1"

die() {
	echo "install-onnxruntime: $*" >&2
	exit 1
}

if [[ -n "${ZOO_ONNXRUNTIME_LIB:-}" ]]; then
	[[ -f "$ZOO_ONNXRUNTIME_LIB" ]] ||
		die "ZOO_ONNXRUNTIME_LIB=$ZOO_ONNXRUNTIME_LIB does not exist; unset it to install ONNX Runtime $ORT_VERSION into $dest"
	echo "install-onnxruntime: using ZOO_ONNXRUNTIME_LIB=$ZOO_ONNXRUNTIME_LIB (nothing installed)"
	exit 0
fi

sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$dest" ]] && [[ "$(sha256 "$dest")" == "$ORT_SHA256" ]]; then
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "only linux/x86_64 is packaged; build ONNX Runtime >= 1.24 yourself and set ZOO_ONNXRUNTIME_LIB to its libonnxruntime.so" ;;
esac
command -v npm >/dev/null || die "npm is needed to fetch onnxruntime-node@$ORT_VERSION (apt-get install npm)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "install-onnxruntime: fetching onnxruntime-node@$ORT_VERSION" >&2
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) ||
	die "npm pack onnxruntime-node@$ORT_VERSION failed"
tgz=("$tmp"/onnxruntime-node-*.tgz)
[[ -f "${tgz[0]}" ]] || die "npm pack produced no tarball"
tar -xzf "${tgz[0]}" -C "$tmp" "$ORT_MEMBER" ||
	die "$ORT_MEMBER is missing from onnxruntime-node@$ORT_VERSION"

got=$(sha256 "$tmp/$ORT_MEMBER")
if [[ "$got" != "$ORT_SHA256" ]]; then
	die "CHECKSUM MISMATCH for $ORT_MEMBER from onnxruntime-node@$ORT_VERSION:
  expected $ORT_SHA256
  got      $got
refusing to install it"
fi

mkdir -p "$(dirname "$dest")"
# Copy then rename, so a concurrent reader never sees a half-written file.
install -m 0644 "$tmp/$ORT_MEMBER" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
echo "install-onnxruntime: installed ONNX Runtime $ORT_VERSION at $dest" >&2
