#!/usr/bin/env bash
# Regenerates docs/RESULTS.md "What int8 activations cost" on stories260K: each packed INT model's
# perplexity with exact fp32 activations (--int8-activations off: the fake-quantized model's numbers)
# and with every product on int8 activations per 32-block (--int8-activations on: what decode computes),
# same protocol as the weight-only tables (scripts/results-stories260k.sh).
# Usage: scripts/results-int8-activations.sh [HESSQ_BINARY] [SHARED_DIR] [WORK_DIR] [SMOLLM2_GGUF]
# (SmolLM2 rows when the GGUF is there: scripts/fetch-smollm2.)
set -euo pipefail
hessq=${1:-build/hessq}
shared=${2:-../shared}
work=${3:-$(mktemp -d -t hessq-i8-XXXX)}
. "$(dirname "$0")/results-stories260k.sh"
require results-int8-activations "$hessq" "$model" "$text"
mkdir -p "$work"

ppl() { "${hq[@]}" --int8-activations "$1" eval --model "$2" "${evalppl[@]}" | grep -m1 '"ppl"' | sed 's/.*: *//; s/,$//'; }

echo "| weights | method | PPL, fp32 activations | PPL, int8 activations | change |"
echo "|---|---|---|---|---|"
for row in "W8 per channel|--bits 8 --sym" "W4 g32|--bits 4 --group 32" "W4 g64|--bits 4 --group 64" \
           "W3 g32|--bits 3 --group 32" "W2 g64|--bits 2 --group 64"; do
  name=${row%%|*}; args=${row#*|}
  for method in rtn gptq; do
    out=$work/$method-$(echo "$args" | tr -d ' -').hessq
    # shellcheck disable=SC2086
    "${hq[@]}" quantize --model "$model" "${calib[@]}" --method $method $args --out "$out" --force >/dev/null
    a=$(ppl off "$out"); b=$(ppl on "$out")
    awk -v n="$name" -v m="$method" -v a="$a" -v b="$b" \
      'BEGIN { printf "| %s | %s | %.4f | %.4f | %+.2f%% |\n", n, m, a, b, 100 * (b - a) / a }'
  done
done

# SmolLM2-135M-Instruct (when scripts/fetch-smollm2 has fetched it): the protocol of results-smollm2.sh
# (C4 calibration, 4096 tokens; WikiText-2 test, ctx 512, the first 32768 predicted tokens).
smol=${4:-${XDG_CACHE_HOME:-$HOME/.cache}/hessq/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -e "$smol" ] || exit 0
c4=$shared/data/c4/c4_en_train_first1000.jsonl
wiki=$shared/data/wikitext-2/wiki.test.raw
echo
echo "SmolLM2-135M-Instruct (baseline: the dequantized Q4_1 model), RTN:"
echo
echo "| weights | method | PPL, fp32 activations | PPL, int8 activations | change |"
echo "|---|---|---|---|---|"
sppl() {
  "${hq[@]}" --int8-activations "$1" eval --model "$2" --tokenizer "$smol" --ppl "$wiki" --ctx 512 --max-tokens 32768 \
    --json | grep -m1 '"ppl"' | sed 's/.*: *//; s/,$//'
}
for bits in 4 3; do
  out=$work/smol-rtn-w${bits}g128.hessq
  "${hq[@]}" quantize --model "$smol" --calib "$c4" --calib-tokens 4096 --heldout-tokens 0 --method rtn --bits "$bits" \
    --group 128 --out "$out" --force >/dev/null
  a=$(sppl off "$out"); b=$(sppl on "$out")
  awk -v n="W$bits g128" -v a="$a" -v b="$b" 'BEGIN { printf "| %s | rtn | %.4f | %.4f | %+.2f%% |\n", n, a, b, 100 * (b - a) / a }'
done
