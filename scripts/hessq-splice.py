#!/usr/bin/env python3
"""Copies the .hessq model BASE to OUT and replaces the stored tensors whose names match one of the
regular expressions PATTERN with DONOR's: a model with, for example, every v_proj of another run
(`hessq-splice.py gptq.hessq rtn.hessq out.hessq 'v_proj\\.'`). For studies of which linears a
method helps or hurts; the quantize recipe has one solver for every linear.

Usage: scripts/hessq-splice.py BASE DONOR OUT PATTERN...

BASE and DONOR must come from the same model and weight format (same shards, tensor names, dtypes and
shapes; checked). OUT's hessq.json is BASE's: its per-linear diagnostics describe BASE, not the
spliced linears. Python standard library only.
"""
import json
import os
import re
import shutil
import struct
import sys


def header(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    base, donor, out, patterns = sys.argv[1], sys.argv[2], sys.argv[3], [re.compile(p) for p in sys.argv[4:]]
    if os.path.exists(out):
        sys.exit(f'hessq-splice: {out} exists')
    shutil.copytree(base, out)
    replaced = 0
    for shard in sorted(s for s in os.listdir(out) if s.endswith('.safetensors')):
        h_out, o_out = header(os.path.join(out, shard))
        h_don, o_don = header(os.path.join(donor, shard))
        with open(os.path.join(donor, shard), 'rb') as src, open(os.path.join(out, shard), 'r+b') as dst:
            for name, t in h_out.items():
                if name == '__metadata__' or not any(p.search(name) for p in patterns):
                    continue
                d = h_don.get(name)
                if d is None or d['dtype'] != t['dtype'] or d['shape'] != t['shape']:
                    sys.exit(f'hessq-splice: {donor}/{shard}: {name} is {d}, {base} has {t}')
                a, b = d['data_offsets']
                src.seek(o_don + a)
                dst.seek(o_out + t['data_offsets'][0])
                dst.write(src.read(b - a))
                replaced += 1
    if replaced == 0:
        sys.exit(f'hessq-splice: no tensor of {base} matches {sys.argv[4:]}')
    print(f'hessq-splice: {replaced} tensors of {out} from {donor}', file=sys.stderr)


if __name__ == '__main__':
    main()
