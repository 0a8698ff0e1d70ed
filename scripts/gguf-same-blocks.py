#!/usr/bin/env python3
"""Compares the linear tensors (blk.*.weight, norms excluded; token_embd and output) of two GGUF files byte for byte.

    scripts/gguf-same-blocks.py A.gguf B.gguf

Prints how many tensors hold identical bytes (same type and data) and how many differ. Pure Python (no numpy).
Used by scripts/results-gguf-export.sh and results-gguf-presets.sh: hessq's rtn against llama-quantize's file."""
import struct, sys
def read(path):
    f = open(path, 'rb').read()
    pos = 0
    def u(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, f, pos); pos += struct.calcsize(fmt); return v[0]
    def s():
        n = u('<Q'); nonlocal pos; v = f[pos:pos+n]; pos += n; return v.decode('utf-8', 'replace')
    sizes = {0:1,1:1,2:2,3:2,4:4,5:4,6:4,7:1,10:8,11:8,12:8}
    def val(t):
        nonlocal pos
        if t == 8: return s()
        if t == 9:
            et = u('<I'); n = u('<Q')
            for _ in range(n): val(et)
            return None
        pos += sizes[t]; return None
    assert f[:4] == b'GGUF'; pos = 4
    u('<I'); nt = u('<Q'); nkv = u('<Q')
    align = 32
    for _ in range(nkv):
        k = s(); t = u('<I'); v = val(t)
    infos = []
    for _ in range(nt):
        name = s(); nd = u('<I'); ne = [u('<Q') for _ in range(nd)]; t = u('<I'); off = u('<Q')
        infos.append((name, ne, t, off))
    data = (pos + align - 1) // align * align
    return f, data, {n: (ne, t, off) for n, ne, t, off in infos}
fa, da, ta = read(sys.argv[1]); fb, db, tb = read(sys.argv[2])
same = diff = 0
for name in ta:
    linear = name.startswith('blk.') and name.endswith('.weight') and 'norm' not in name
    if not linear and name not in ('token_embd.weight', 'output.weight'): continue
    ne, t, off = ta[name]; ne2, t2, off2 = tb[name]
    n = 1
    for d in ne: n *= d
    # bytes per block of 32 / 256 values, by ggml type id (ggml.h)
    per_block = {2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84), 11: (256, 110),
                 12: (256, 144), 13: (256, 176), 14: (256, 210), 0: (1, 4), 1: (1, 2), 30: (1, 2)}
    if t != t2 or t not in per_block: diff += 1; continue
    nbytes = n // per_block[t][0] * per_block[t][1]
    if fa[da+off:da+off+nbytes] == fb[db+off2:db+off2+nbytes]: same += 1
    else: diff += 1
print(f"{same} identical, {diff} different")
