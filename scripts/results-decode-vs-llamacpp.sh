#!/usr/bin/env bash
# Regenerates the "Decode speed against llama.cpp" table of docs/RESULTS.md: hessq's fp32 decode
# and prefill (bench/bench_forward, the stories110m shape: BM_Decode/0, BM_Prefill/0/512) against
# llama-bench on the same model as an F32 GGUF (tg128, pp512), 2 threads, in alternating rounds on
# one machine so that both see the same load; medians over the rounds.
#   scripts/results-decode-vs-llamacpp.sh LLAMA_BUILD_DIR GGUF LABEL=BENCH_FORWARD...
# GGUF: the F32 file scripts/bench-llamacpp writes (CACHE/stories110m-F32.gguf). Each LABEL=PATH is
# a bench_forward binary (e.g. before=/tmp/bench_forward.old after=build/bench/bench_forward).
# ROUNDS (default 5). WAITS (default "default"): also "passive" runs hessq with
# OMP_WAIT_POLICY=passive and llama-bench with --poll 0 (threads sleep instead of spinning).
# RAW=FILE keeps the measurements (one line per run: runtime, wait, kind, tok/s, load); with
# REPORT_ONLY=1 the table is made from an existing RAW file without running anything.
# Not run by CI (needs a llama.cpp build outside the repository).
set -euo pipefail
llama=${1:?usage: LLAMA_BUILD_DIR GGUF LABEL=BENCH_FORWARD...}
gguf=${2:?GGUF}
shift 2
rounds=${ROUNDS:-5}
waits=${WAITS:-default}
raw=${RAW:-$(mktemp)}
[ -n "${RAW:-}" ] || trap 'rm -f "$raw"' EXIT

[ "${REPORT_ONLY:-0}" = 1 ] || for r in $(seq "$rounds"); do
  for w in $waits; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    for spec in "$@"; do
      label=${spec%%=*}; bin=${spec#*=}
      env=(); [ "$w" = passive ] && env=(OMP_WAIT_POLICY=passive)
      env "${env[@]}" OMP_NUM_THREADS=2 "$bin" --benchmark_filter='BM_(Decode/0|Prefill/0/512)/' \
        --benchmark_min_time=2 --benchmark_format=json 2>/dev/null |
        python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    kind = "decode" if b["name"].startswith("BM_Decode") else "prefill"
    print(sys.argv[1], sys.argv[2], kind, b["tokens_per_s"], sys.argv[3])' "hessq $label" "$w" "$load" >>"$raw"
    done
    poll=(); [ "$w" = passive ] && poll=(--poll 0)
    "$llama/bin/llama-bench" -m "$gguf" -t 2 -r 3 -p 512 -n 128 "${poll[@]}" -o json 2>/dev/null |
      python3 -c '
import json, sys
for b in json.load(sys.stdin):
    kind = "decode" if b["n_gen"] > 0 else "prefill"
    print("llama.cpp", sys.argv[1], kind, b["avg_ts"], sys.argv[2])' "$w" "$load" >>"$raw"
  done
done

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, 2 threads;" \
  "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)}; $rounds rounds; date $(date -u +%FT%TZ)"
python3 - "$raw" <<'PY'
import statistics, sys
from collections import defaultdict
runs = defaultdict(list); loads = []
for line in open(sys.argv[1]):
    *name, wait, kind, ts, load = line.split()
    runs[(" ".join(name), wait, kind)].append(float(ts)); loads.append(float(load))
print(f"load average (1 min) at the rounds' starts: {min(loads):.2f} to {max(loads):.2f}, median {statistics.median(loads):.2f}\n")
print("| runtime | threads wait | decode tok/s (median, min-max) | vs llama.cpp | prefill tok/s (median) | vs llama.cpp |")
print("|---|---|---|---|---|---|")
names = sorted({k[0] for k in runs}, key=lambda n: (n != "llama.cpp", n))
for wait in dict.fromkeys(k[1] for k in runs):
    for name in names:
        d, p = runs.get((name, wait, "decode")), runs.get((name, wait, "prefill"))
        if not d: continue
        md, mp = statistics.median(d), statistics.median(p)
        bd, bp = statistics.median(runs[("llama.cpp", wait, "decode")]), statistics.median(runs[("llama.cpp", wait, "prefill")])
        print(f"| {name} | {wait} | {md:.1f} ({min(d):.1f}-{max(d):.1f}, n={len(d)}) | {md/bd:.2f}x | {mp:.1f} | {mp/bp:.2f}x |")
PY
