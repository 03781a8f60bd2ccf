#!/usr/bin/env bash
# Conversion of PyTorch state-dict weights (bench/RESULTS.md, section
# "Conversion"): ROUNDS runs of `zoo convert` on the reconstructed nuclei
# U-Net (convert/testdata/nuclei-unet plus the example's test tensors), in
# the sandbox, reporting wall time and the sandboxed converter's peak RSS
# (from the --json report), then the runs-natively / after-conversion /
# not-at-all count over the real descriptions of the rdf corpus.
#
#   bench/convert.sh          # ROUNDS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
FIXTURES=${ZOO_FIXTURES:-../shared/fixtures}
NUCLEI=$FIXTURES/bioimageio-examples/models/unet2d_nuclei_broad
[ -d "$NUCLEI" ] || { echo "convert.sh: $NUCLEI not found (set ZOO_FIXTURES)" >&2; exit 2; }
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null || ! command -v bwrap >/dev/null; then
  echo "convert.sh: skipped: needs python3-torch and bubblewrap (apt-get install python3-torch bubblewrap)" >&2
  exit 0
fi
make -s build >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pkg=$tmp/nuclei-unet
mkdir -p "$pkg"
cp "$NUCLEI"/{README.md,cover0.png,test_input.npy,test_output.npy,test_input.png,test_output.png} "$pkg"/
cp convert/testdata/nuclei-unet/* "$pkg"/

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PyTorch: $(dpkg-query -W -f '${Version}' python3-torch 2>/dev/null || echo '?') (Debian python3-torch); bubblewrap $(bwrap --version | cut -d' ' -f2)"
echo
echo "| round | zoo convert wall (s) | converter peak RSS (MiB) | torchscript | onnx |"
echo "|---:|---:|---:|---|---|"
for i in $(seq "$ROUNDS"); do
  start=$(date +%s.%N)
  bin/zoo convert "$pkg" -o "$tmp/out$i" --json 2>/dev/null > "$tmp/r$i.json" || true
  end=$(date +%s.%N)
  python3 - "$tmp/r$i.json" "$i" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r.get("formats", {})
def fmt(k):
    x = f.get(k) or {}
    t = (x.get("test") or {}).get("max_abs_error")
    return "%s (%s, max abs err %.2g)" % (x.get("status", "-"), x.get("method", "-"), t) if t is not None else x.get("status", "-")
print("| %s | %.1f | %d | %s | %s |" % (sys.argv[2], float(sys.argv[4]) - float(sys.argv[3]), r.get("peak_rss_bytes", 0) >> 20, fmt("torchscript"), fmt("onnx")))
PY
done
echo
go run ./bench/convertible "$FIXTURES/rdf-corpus/rdfs"
