#!/usr/bin/env bash
# Challenge platform: reading and checking a predictions zip (8 × 512²
# float32), ranking a leaderboard (5,000 submissions of 1,000
# participants, mean rank over 3 metrics), and one submission end to end
# on SQLite (checked, recorded, scored with PSNR and SSIM on 4 × 512²,
# stored). BENCHTIME and COUNT tune go test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" -count "${COUNT:-3}" ./challenge ./challenge/platform |
	awk '/^Benchmark/ { printf "%-32s %14s ns/op %12s %s\n", $1, $3, $5, $6 }'
