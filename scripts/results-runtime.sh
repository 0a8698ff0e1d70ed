#!/usr/bin/env bash
# Regenerates the "Float runtime speed" table of docs/RESULTS.md: fp32 decode and prefill on
# synthetic llama-2-7b-shaped layers (2 layers) next to the machine's memory bandwidth, all measured in
# one bench_forward process. Usage: scripts/results-runtime.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$build/bench/bench_forward" --benchmark_format=json --benchmark_out="$json" --benchmark_out_format=json >/dev/null
python3 - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
b = {x["name"].split("/min_time")[0] + ("/" + x["label"] if x.get("label") else ""): x for x in d["benchmarks"]}
ctx = d["context"]
copy = b["BM_MemoryCopy"]["copy_Bps"]; read = b["BM_MemoryRead"]["read_Bps"]
dec = b["BM_Decode"]; pre = b["BM_Prefill/512"]
print(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, {ctx.get('host_name')}; date {ctx.get('date')}\n")
print("| measurement | value | ratio |")
print("|---|---|---|")
print(f"| memory copy bandwidth (read + write) | {copy/1e9:.1f} GB/s | 1.00 |")
print(f"| memory read bandwidth | {read/1e9:.1f} GB/s | {read/copy:.2f} of copy |")
print(f"| fp32 decode | {dec['tokens_per_s']:.2f} tokens/s | |")
print(f"| decode weight-read bandwidth | {dec['weight_read_Bps']/1e9:.1f} GB/s | {dec['weight_read_Bps']/copy:.2f} of copy, {dec['weight_read_Bps']/read:.2f} of read |")
print(f"| fp32 prefill (512 tokens per call) | {pre['tokens_per_s']:.1f} tokens/s | {pre['tokens_per_s']/dec['tokens_per_s']:.1f}x decode |")
gemv = {k.split("/")[-1]: v for k, v in b.items() if k.startswith("BM_Gemv")}
if gemv:
    base = gemv["openblas"]["weight_read_Bps"]
    print("\nDecode GEMV alone (4096 x 11008 fp32), per ISA, against OpenBLAS sgemv in the same process:\n")
    print("| kernel | weight-read bandwidth | ratio to OpenBLAS |")
    print("|---|---|---|")
    for k in ["openblas", "scalar", "avx2", "avx512"]:
        if k in gemv:
            print(f"| {k} | {gemv[k]['weight_read_Bps']/1e9:.1f} GB/s | {gemv[k]['weight_read_Bps']/base:.2f} |")
PY
