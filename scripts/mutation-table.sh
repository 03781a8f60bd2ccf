#!/usr/bin/env bash
# mutation-table.sh OUT [PKG ...] — the per-package table of the gremlins
# reports OUT/PKG.json written by scripts/mutation.sh (all reports in OUT
# without PKG arguments). Score = killed / (killed + lived), in percent.
set -euo pipefail
out=$1
shift
pkgs=("$@")
if [[ ${#pkgs[@]} -eq 0 ]]; then
	for f in "$out"/*.json; do pkgs+=("$(basename "$f" .json)"); done
fi
printf '| package | killed | lived | not covered | timed out | not viable | score | time |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
for pkg in "${pkgs[@]}"; do
	f=$out/$pkg.json
	if [[ ! -s $f ]]; then
		log=$out/$pkg.log
		if [[ -s $log ]]; then
			# A run stopped before its end leaves no JSON: count the
			# statuses gremlins logged so far.
			k=$(grep -c '^ *KILLED ' "$log" || true)
			l=$(grep -c '^ *LIVED ' "$log" || true)
			n=$(grep -c '^ *NOT COVERED ' "$log" || true)
			to=$(grep -c '^ *TIMED OUT ' "$log" || true)
			nv=$(grep -c '^ *NOT VIABLE ' "$log" || true)
			score=–
			((k + l > 0)) && score="$((1000 * k / (k + l) / 10)).$((1000 * k / (k + l) % 10)) %"
			printf '| %s | %s | %s | %s | %s | %s | %s | stopped (partial) |\n' "$pkg" "$k" "$l" "$n" "$to" "$nv" "$score"
		else
			printf '| %s | – | – | – | – | – | not run | |\n' "$pkg"
		fi
		continue
	fi
	secs=$(cat "$out/$pkg.seconds" 2>/dev/null || echo "")
	jq -r --arg pkg "$pkg" --arg secs "$secs" '
		[.files[].mutations[].status] as $s
		| ($s | map(select(. == "KILLED")) | length) as $k
		| ($s | map(select(. == "LIVED")) | length) as $l
		| ($s | map(select(. == "NOT COVERED")) | length) as $n
		| ($s | map(select(. == "TIMED OUT")) | length) as $t
		| ($s | map(select(. == "NOT VIABLE")) | length) as $v
		| "| \($pkg) | \($k) | \($l) | \($n) | \($t) | \($v) | "
		  + (if $k + $l > 0 then "\((1000 * $k / ($k + $l) | floor) / 10) %" else "–" end)
		  + " | " + (if $secs != "" then "\(($secs | tonumber) / 60 | floor) min \(($secs | tonumber) % 60) s" else "" end) + " |"' "$f"
done
