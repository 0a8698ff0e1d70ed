#!/usr/bin/env bash
# Regenerates the "Float runtime speed" table of docs/RESULTS.md: fp32 decode and prefill on
# synthetic llama-2-7b-shaped layers (2 layers) and the 110M stories110m shape, next to the machine's
# memory bandwidth, all measured in one bench_forward process, with the time per forward part.
# Usage: scripts/results-runtime.sh [BUILD_DIR]
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
copy = b["BM_MemoryCopy/1024"]["copy_Bps"]; read = b["BM_MemoryRead/1024"]["read_Bps"]
print(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, {ctx.get('host_name')}; date {ctx.get('date')}\n")
print("| measurement | value | ratio |")
print("|---|---|---|")
print(f"| memory copy bandwidth (read + write, 1 GiB) | {copy/1e9:.1f} GB/s | 1.00 |")
print(f"| memory read bandwidth (1 GiB) | {read/1e9:.1f} GB/s | {read/copy:.2f} of copy |")
print(f"| memory read bandwidth (440 MiB) | {b['BM_MemoryRead/440']['read_Bps']/1e9:.1f} GB/s | |")
for i, shape in enumerate(["stories110m", "llama-2-7b-l2"]):
    dec = b[f"BM_Decode/{i}/{shape}"]; pre = b[f"BM_Prefill/{i}/512/{shape}"]
    print(f"| {shape}: fp32 decode | {dec['tokens_per_s']:.2f} tokens/s | |")
    print(f"| {shape}: decode read bandwidth ({dec['bytes_per_token']/1e9:.3f} GB per token) | {dec['read_Bps']/1e9:.1f} GB/s | {dec['read_Bps']/read:.2f} of read |")
    print(f"| {shape}: fp32 prefill (512 tokens per call) | {pre['tokens_per_s']:.1f} tokens/s | {pre['tokens_per_s']/dec['tokens_per_s']:.1f}x decode |")
parts = [k[:-3] for k in b["BM_Decode/0/stories110m"] if k.endswith("_ms")]
print("\nWall time per token in each part of the forward pass (ms):\n")
print("| run | " + " | ".join(parts) + " |")
print("|---|" + "---|" * len(parts))
for k, v in b.items():
    if k.startswith(("BM_Decode", "BM_Prefill")):
        print(f"| {k} | " + " | ".join(f"{v[p + '_ms']:.3f}" for p in parts) + " |")
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
