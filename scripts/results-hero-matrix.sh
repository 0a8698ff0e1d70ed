#!/usr/bin/env bash
# Regenerates docs/RESULTS.md "Learned rotations across formats" on stories260K: GPTQ, AWQ,
# QuaRot+GPTQ, SpinQuant+GPTQ, HeRo-Q+GPTQ and HeRo-Q+OSAQ+GPTQ at W3 g32, W3 and W4 per channel
# (weight-only), W4A8 (INT4 g32 weights, INT8 per-token activations) and W4A4 NVFP4, plus the ARHQ
# branch (rank 4 and 8) after QuaRot or HeRo-Q for W4A4. Seed 0 for every rotation (the seed spread
# is in the table of scripts/results-hero.sh). Same calibration and evaluation text as the
# weight-only grid; PIQA for the W3 rows. Prints markdown on stdout, progress on stderr.
# Usage: scripts/results-hero-matrix.sh [HESSQ_BINARY] [SHARED_DIR] [WORK_DIR]
set -euo pipefail
hessq=${1:-build/hessq}
shared=${2:-../shared}
work=${3:-$(mktemp -d -t hessq-heromx-XXXX)}
. "$(dirname "$0")/results-stories260k.sh"
require results-hero-matrix "$hessq" "$model" "$text" "$piqa"
mkdir -p "$work"

# row FORMAT_LABEL NAME PIQA(0/1) ARGS...: quantize, evaluate, print one table row.
row() {
  local label=$1 name=$2 with_piqa=$3; shift 3
  local method=$2  # ARGS start with --method M
  echo "results-hero-matrix: $name" >&2
  local q=$work/$name.q.json e=$work/$name.e.json
  "${hq[@]}" quantize --model "$model" "${calib[@]}" "$@" --out "$work/$name.hessq" --force --json >"$q"
  "${hq[@]}" eval --model "$work/$name.hessq" "${evalppl[@]}" >"$e"
  local acc=-
  if [ "$with_piqa" = 1 ]; then
    "${hq[@]}" eval --model "$work/$name.hessq" --piqa "$piqa" --json >"$work/$name.piqa.json"
    acc=$(printf '%.4f' "$(field acc "$work/$name.piqa.json")")
  fi
  local steps=- opt=-
  if grep -q '"optimize_s"' "$q"; then
    steps=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['summary']['hero']['steps'])" "$q")
    opt=$(printf '%.1f s' "$(field optimize_s "$q")")
  fi
  printf '| %s | %s%s | %.4f | %.4f | %s | %s | %s | %.1f s |\n' "$label" "$method" \
    "$(echo " $*" | grep -o -- ' --rank [0-9]*' | sed 's/ --rank / r/')" \
    "$(field ppl "$e")" "$(field bits_per_weight_quantized "$q")" "$acc" "$steps" "$opt" "$(field total_s "$q")"
}

echo "| format | method | PPL | bits/weight | PIQA acc | optimizer steps | optimizer time | quantize time |"
echo "|---|---|---|---|---|---|---|---|"
formats=("W3 g32|--bits 3 --group 32|1" "W3 per channel|--bits 3 --group 0|1" "W4 per channel|--bits 4 --group 0|0"
         "W4A8|--format w4a8|0" "W4A4 NVFP4|--format nvfp4|0")
for f in "${formats[@]}"; do
  IFS='|' read -r label args piq <<<"$f"
  key=$(echo "$label" | tr ' ' '-' | tr 'A-Z' 'a-z')
  for m in gptq awq quarot+gptq spinquant+gptq hero+gptq hero+osaq+gptq; do
    # shellcheck disable=SC2086
    row "$label" "$key-$m" "$piq" --method "$m" $args
  done
  if [ "$label" = "W4A4 NVFP4" ]; then
    for m in quarot+arhq+gptq hero+arhq+gptq; do
      for r in 4 8; do
        # shellcheck disable=SC2086
        row "$label" "$key-$m-r$r" 0 --method "$m" $args --rank "$r"
      done
    done
  fi
done
echo
echo "Work directory: $work" >&2
