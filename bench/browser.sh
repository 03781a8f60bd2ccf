#!/usr/bin/env bash
# In-browser inference (bench/RESULTS.md, section "Try-it in the browser"):
# pages.TestBrowserRunBench in headless Chromium — the nuclei U-Net on a
# 512² image in the browser (ONNX Runtime Web's WebAssembly backend driven
# by zoo.wasm; first visit with the downloads, then from the browser's
# cache) next to the server job path end to end, and the bytes the
# browser receives. Prints the machine and a markdown table.
#
#   bench/browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f lib/libonnxruntime.so.1 ] || scripts/install-onnxruntime.sh
scripts/install-browser-runtime.sh
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: ZOO_BENCH_BROWSER=1 go test ./pages -run '^TestBrowserRunBench\$' -v"
ZOO_BENCH_BROWSER=1 go test -count=1 ./pages -run '^TestBrowserRunBench$' -v -timeout 20m 2>/dev/null |
	sed -n '/^nuclei U-Net/,/^--- /p' | grep -v '^--- '
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
