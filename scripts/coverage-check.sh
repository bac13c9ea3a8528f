#!/usr/bin/env bash
# Fail unless the `Total` row of a `forge coverage --report summary` has lines and branches >= MIN %.
set -euo pipefail
file=$1 min=$2
total=$(grep -E '^\| Total' "$file") || { echo "coverage: no Total row" >&2; exit 1; }
# columns: | Total | % Lines | % Statements | % Branches | % Funcs |
lines=$(awk -F'|' '{print $3}' <<<"$total" | grep -oE '[0-9]+\.[0-9]+' | head -1)
branches=$(awk -F'|' '{print $5}' <<<"$total" | grep -oE '[0-9]+\.[0-9]+' | head -1)
echo "coverage: lines ${lines}%, branches ${branches}% (minimum ${min}%)"
awk -v l="$lines" -v b="$branches" -v m="$min" 'BEGIN { exit !(l >= m && b >= m) }' \
  || { echo "coverage below ${min}%" >&2; exit 1; }
