#!/usr/bin/env bash
# Regenerates docs/RESULTS.md "Learned rotations: HeRo-Q and SpinQuant vs QuaRot" on stories260K:
# gptq, quarot+gptq, spinquant+gptq and hero+gptq (and the +rtn variants) at W3 g32 and W4 g32, the
# rotations at seeds 0, 1 and 2 (the seed of QuaRot's Hadamard signs, which is also the learned
# rotations' starting point). Same calibration and evaluation text as the weight-only grid.
# Prints markdown on stdout, progress on stderr; models and JSONs stay under WORK_DIR.
# Usage: scripts/results-hero.sh [HESSQ_BINARY] [SHARED_DIR] [WORK_DIR]
set -euo pipefail
hessq=${1:-build/hessq}
shared=${2:-../shared}
work=${3:-$(mktemp -d -t hessq-hero-XXXX)}
. "$(dirname "$0")/results-stories260k.sh"
require results-hero "$hessq" "$model" "$text"
mkdir -p "$work"

# ppl NAME ARGS...: quantize into $work/NAME.hessq, evaluate, print the perplexity.
ppl() {
  local name=$1; shift
  echo "results-hero: $name" >&2
  "${hq[@]}" quantize --model "$model" "${calib[@]}" "$@" --out "$work/$name.hessq" --force --json >"$work/$name.q.json"
  "${hq[@]}" eval --model "$work/$name.hessq" "${evalppl[@]}" >"$work/$name.e.json"
  printf '%.4f' "$(field ppl "$work/$name.e.json")"
}
# seed_args METHOD SEED: how each rotation takes its seed.
seed_args() {
  case $1 in
    quarot*) echo "--rotate-seed $2" ;;
    spinquant*) echo "--set spinquant.seed=$2" ;;
    hero*) echo "--set hero.seed=$2" ;;
  esac
}

echo "| bits | method | PPL seed 0 | PPL seed 1 | PPL seed 2 | mean |"
echo "|---|---|---|---|---|---|"
for bits in 3 4; do
  for solver in gptq rtn; do
    printf '| W%s g32 | %s | %s | - | - | - |\n' "$bits" "$solver" "$(ppl "$solver-w$bits" --method "$solver" --bits "$bits" --group 32)"
    for rot in quarot spinquant hero; do
      p=()
      for seed in 0 1 2; do
        # shellcheck disable=SC2046
        p+=("$(ppl "$rot-$solver-w$bits-s$seed" --method "$rot+$solver" --bits "$bits" --group 32 $(seed_args "$rot" "$seed"))")
      done
      printf '| W%s g32 | %s+%s | %s | %s | %s | %s |\n' "$bits" "$rot" "$solver" "${p[0]}" "${p[1]}" "${p[2]}" \
        "$(awk "BEGIN { printf \"%.4f\", (${p[0]} + ${p[1]} + ${p[2]}) / 3 }")"
    done
  done
done
echo
for rot in spinquant hero; do
  python3 - "$work/$rot-gptq-w3-s0.q.json" "$rot" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["summary"]["hero"]
c, b = h["curve"], h["best_step"]
print(f"{sys.argv[2]}+gptq W3 g32 seed 0: layer objective {c['objective'][0]:.4f} -> {c['objective'][b]:.4f} "
      f"(relative quantization loss {c['quant'][0]:.4f} -> {c['quant'][b]:.4f}, log condition sum "
      f"{c['cond'][0]:.2f} -> {c['cond'][b]:.2f}; best of {len(c['objective']) - 1} steps: step {b}).")
PY
done
