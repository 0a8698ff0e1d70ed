#!/usr/bin/env bash
# Regenerates docs/RESULTS.md "Quantization pipeline at 8B scale": GPTQ W4 g128 of synthetic
# llama-3-8b-shaped checkpoints (bf16, seeded random weights: speed and memory only, never accuracy)
# with 2, 6 and 32 (full depth) blocks, calibrated on C4 text; peak RSS (/usr/bin/time -v), wall time
# and the pipeline's own stage split, block forwards. Prints markdown on stdout, progress on stderr.
# Usage: scripts/results-pipeline.sh [HESSQ_BINARY] [SHARED_DIR] [SYNTH_DIR] [WORK_DIR] [DEPTHS]
#   SYNTH_DIR holds (or receives) llama-3-8b-l2, llama-3-8b-l6 and llama-3-8b (~16 GB on disk);
#   DEPTHS defaults to "2 6 0" (0 = full depth).
set -euo pipefail
hessq=${1:-build/hessq}
shared=${2:-../shared}
synth=${3:-/work/synth}
work=${4:-$(mktemp -d -t hessq-pipe-XXXX)}
depths=${5:-"2 6 0"}
calib=$shared/data/c4/c4_en_train_first1000.jsonl
for f in "$hessq" "$calib"; do
  [ -e "$f" ] || { echo "results-pipeline: $f not found" >&2; exit 1; }
done
mkdir -p "$synth" "$work"
. "$(dirname "$0")/results-common.sh"  # field, require
fmt1() { [ -n "$1" ] && [ "$1" != null ] && printf '%.1f' "$1" || printf -- '-'; }

echo "| blocks | checkpoint | peak RSS | wall | load | calibration forwards | block passes | solve | diagnostics | write | block forwards (formula) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for layers in $depths; do
  name=llama-3-8b$([ "$layers" = 0 ] || echo "-l$layers")
  model=$synth/$name
  if [ ! -d "$model" ]; then
    echo "results-pipeline: synth $name" >&2
    "$hessq" --quiet synth --like llama-3-8b --layers "$layers" --seed 0 --dtype bf16 --out "$model"
  fi
  out=$work/$name-gptq-w4g128.hessq
  rm -rf "$out" "$out.partial"
  echo "results-pipeline: quantize $name" >&2
  /usr/bin/time -v "$hessq" --threads 2 quantize --model "$model" --calib "$calib" --calib-tokens 2048 \
    --method gptq --bits 4 --group 128 --out "$out" --json >"$work/$name.q.json" 2>"$work/$name.log"
  q=$work/$name.q.json
  printf '| %s | %.1f GB bf16 | %.2f GiB | %s | %s s | %s s | %s s | %s s | %s s | %s s | %s (%s) |\n' \
    "$(grep -o '"n_layers": [0-9]*' "$out/hessq.json" | head -1 | grep -o '[0-9]*$')" \
    "$(du -sb "$model" | awk '{ print $1 / 1e9 }')" \
    "$(awk '/Maximum resident/ { print $NF / 1048576 }' "$work/$name.log")" \
    "$(awk -F': ' '/Elapsed/ { print $2 }' "$work/$name.log")" \
    "$(fmt1 "$(field load_s "$q")")" "$(fmt1 "$(field calibration_forward_s "$q")")" \
    "$(fmt1 "$(field block_passes_s "$q")")" "$(fmt1 "$(field solve_s "$q")")" "$(fmt1 "$(field diagnostics_s "$q")")" "$(fmt1 "$(field write_s "$q")")" \
    "$(field block_forwards "$q")" "$(field block_forwards_expected "$q")"
done
echo
echo "Work directory: $work" >&2
