#!/usr/bin/env bash
# Regenerates the "Packed quantized models: size, decode and prefill speed" tables of docs/RESULTS.md:
# synthetic stories110m (llama2.c's 110M shape) and llama-2-7b (2 layers) checkpoints, quantized with RTN
# to each weight format (embedding and head int8-g32 unless the row says otherwise), each measured by
# bench/bench_decode in its own process (decode and prefill tokens/s, resident memory, the machine's
# read bandwidth in the same process).
# Synthetic weights: speed and memory only, never accuracy.
# Usage: scripts/results-packed.sh [BUILD_DIR] [WORK_DIR] [THREADS] [SHAPES]   (SHAPES: "stories110m llama-2-7b")
set -euo pipefail
build=${1:-build}
work=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/hessq/packed-bench}
threads=${3:-2}
shapes=${4:-stories110m llama-2-7b}
hessq=$build/hessq
bench=$build/bench/bench_decode
shared=$(cd "$(dirname "$0")/../.." && pwd)/shared
text=$shared/data/tinystories/tinystories_validation_head.txt
mkdir -p "$work"
calib=(--calib "$text" --calib-max-chars 20000 --calib-tokens 512 --calib-window 128 --heldout-tokens 0)

# name | quantize arguments ("" = the fp32 checkpoint itself)
variants=(
  "fp32|"
  "W8 per channel|--bits 8 --sym"
  "W4 g32 sym, fp32 head|--bits 4 --group 32 --sym --no-head"
  "W4 g32 sym|--bits 4 --group 32 --sym"
  "W4 g32 asym|--bits 4 --group 32"
  "W4 g128 sym|--bits 4 --group 128 --sym"
  "W3 g128 sym|--bits 3 --group 128 --sym"
  "W2 g64 asym|--bits 2 --group 64"
)

for shape in $shapes; do
  layers=0
  [ "$shape" = llama-2-7b ] && layers=2
  src=$work/$shape-l$layers
  [ -d "$src" ] || "$hessq" -q synth --like "$shape" --layers "$layers" --dtype f32 --seed 0 --out "$src"
  echo
  echo "### $shape ($([ "$layers" = 0 ] && echo "all layers" || echo "$layers layers")), $threads threads"
  echo
  echo "| weights | bits/weight (all params) | on disk | decode tok/s | vs fp32 | decode tok/s, exact activations | weight bytes/token | x tok/s / read bandwidth | prefill tok/s (512) | RSS loaded | RSS peak |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  fp32_tok=""
  for v in "${variants[@]}"; do
    name=${v%%|*}
    args=${v#*|}
    model=$src
    bpw=32
    if [ -n "$args" ]; then
      head=(--head-format int8-g32)
      case $args in *--no-head*) head=(); args=${args/--no-head/} ;; esac
      model=$work/$shape-$(echo "$name" | tr ' ,' '__').hessq
      # shellcheck disable=SC2086
      [ -d "$model" ] || nice -n 5 "$hessq" -q quantize --model "$src" "${calib[@]}" --method rtn $args "${head[@]}" \
        --out "$model" >/dev/null
      bpw=$(python3 -c "import json,sys; print('%.3f' % json.load(open(sys.argv[1]))['totals']['bits_per_weight_all'])" "$model/hessq.json")
    fi
    json=$(OMP_NUM_THREADS=$threads "$bench" "$model" --tokens 64 --prefill 512 --label "$name")
    exact=-
    [ -n "$args" ] && exact=$(OMP_NUM_THREADS=$threads "$bench" "$model" --tokens 64 --prefill 0 --exact 1 |
      python3 -c "import json,sys; print('%.1f' % json.loads(sys.stdin.read())['decode_tok_s'])")
    python3 - "$json" "$name" "$bpw" "$(du -sb "$model" | cut -f1)" "${fp32_tok:-0}" "$exact" <<'PY'
import json, sys
j = json.loads(sys.argv[1]); name, bpw, disk, base, exact = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
mib = lambda b: f"{b / 2**20:.0f} MiB"
ratio = f"{j['decode_tok_s'] / base:.2f}x" if base > 0 else "1.00x"
print(f"| {name} | {bpw} | {mib(disk)} | {j['decode_tok_s']:.1f} | {ratio} | {exact} | {mib(j['weight_bytes'])} | "
      f"{j['roofline']:.2f} (of {j['read_Bps'] / 1e9:.1f} GB/s) | {j['prefill_tok_s']:.1f} | {mib(j['rss_loaded'])} | "
      f"{mib(j['rss_peak'])} |")
PY
    [ -z "$fp32_tok" ] && fp32_tok=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['decode_tok_s'])" "$json")
  done
done
