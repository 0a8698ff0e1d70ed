#!/usr/bin/python3
"""Checks hessq's GPTQ against an independent reference on a `hessq quantize --dump DIR` of an INT
asymmetric grouped run, and measures the error on the first token of each calibration window.

Usage: scripts/gptq-dump-check.py DUMP_DIR BITS GROUP WINDOW [static|dynamic] [NAME_SUBSTRING...]

The reference is the GPTQ paper's `fasterquant` (github.com/IST-DASLab/gptq, gptq.py) written anew in
NumPy float64: H = X^T X / N, damping 0.01 mean(diag H), U = upper Cholesky factor of H^-1, blocks of
128 columns with the lazy update, min-max asymmetric params including 0 with the scale rounded to
f16 as hessq stores it; `static` (hessq's default) takes the group params from the original W,
`dynamic` from the updated columns when the loop enters a group. Inputs not a multiple of GROUP are
zero-padded like hessq does.

Per linear it prints the relative calibration loss tr(dW H dW^T) / tr(W H W^T) of RTN, of hessq's
W_q and of the reference, the largest |W_q(hessq) - W_q(reference)| in quantization steps and the
fraction of weights that differ (ties rounded the other way after float vs double error feedback
differ by one step), then the relative output error ||x dW^T||^2 / ||x W^T||^2 on the first token
of each window (positions 0, WINDOW, ...) for hessq's GPTQ and for RTN, and their ratio.
Needs NumPy (Debian python3-numpy); nothing else.
"""
import json
import os
import sys

import numpy as np


def qparams(x, maxq):
    xmin = np.minimum(x.min(1), 0)
    xmax = np.maximum(x.max(1), 0)
    rng = xmax - xmin
    scale = np.where(rng == 0, 1.0, rng / maxq).astype(np.float32).astype(np.float16).astype(np.float64)
    return scale, np.clip(np.round(-xmin / scale), 0, maxq)


def qd(x, scale, zero, maxq):
    return scale * (np.clip(np.round(x / scale) + zero, 0, maxq) - zero)


def rtn(W, bits, g):
    maxq, Q = 2**bits - 1, np.empty_like(W)
    for c in range(0, W.shape[1], g):
        s, z = qparams(W[:, c:c + g], maxq)
        Q[:, c:c + g] = qd(W[:, c:c + g], s[:, None], z[:, None], maxq)
    return Q


def gptq(W, H, bits, g, static, damp=0.01, block=128):
    W, H, n, maxq = W.copy(), H.copy(), W.shape[1], 2**bits - 1
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    P = [qparams(W[:, c:c + g], maxq) for c in range(0, n, g)] if static else None
    H[np.diag_indices(n)] += damp * np.mean(np.diag(H))
    U = np.linalg.cholesky(np.linalg.inv(H)).T
    Q = np.zeros_like(W)
    for i1 in range(0, n, block):
        i2 = min(i1 + block, n)
        W1, Err = W[:, i1:i2].copy(), np.zeros((W.shape[0], i2 - i1))
        for i in range(i2 - i1):
            c = i1 + i
            if c % g == 0:
                s, z = P[c // g] if static else qparams(np.concatenate([W1[:, i:], W[:, i2:c + g]], 1)[:, :g], maxq)
            q = qd(W1[:, i], s, z, maxq)
            Q[:, c] = q
            e = (W1[:, i] - q) / U[c, c]
            W1[:, i:] -= np.outer(e, U[c, c:i2])
            Err[:, i] = e
        W[:, i2:] -= Err @ U[i1:i2, i2:]
    return Q


def rel_loss(W, Q, H, signal):
    D = Q - W
    return float(np.einsum('ij,jk,ik->', D, H, D)) / signal


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    d, bits, g, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    static = len(sys.argv) <= 5 or sys.argv[5] != 'dynamic'
    subs = sys.argv[6:]
    man = json.load(open(os.path.join(d, 'manifest.json')))
    print('| linear | RTN loss | hessq GPTQ loss | reference loss | max diff (steps) | differing | '
          'first-token err GPTQ | first-token err RTN | ratio |')
    print('|---|---|---|---|---|---|---|---|---|')
    for L in man['linears']:
        if subs and not any(s in L['name'] for s in subs):
            continue
        W = np.load(os.path.join(d, L['w'])).astype(np.float64)
        X = np.load(os.path.join(d, L['x_calib'])).astype(np.float64)
        Wq = np.load(os.path.join(d, L['w_q'])).astype(np.float64)
        n = W.shape[1]
        pad = (-n) % g
        Wp, Xp = np.pad(W, ((0, 0), (0, pad))), np.pad(X, ((0, 0), (0, pad)))
        Wqp = Wq if Wq.shape[1] == n + pad else np.pad(Wq, ((0, 0), (0, pad)))
        H = Xp.T @ Xp / Xp.shape[0]
        signal = float(np.einsum('ij,jk,ik->', Wp, H, Wp))
        R, Qr = rtn(Wp, bits, g), gptq(Wp, H, bits, g, static)
        step = 2 * np.abs(R - Wp).max() + 1e-30  # at least one quantization step of the coarsest group
        diff = np.abs(Qr - Wqp)
        first = X[::window]
        y = (first @ W.T) ** 2
        e_g = ((first @ (Wq[:, :n] - W).T) ** 2).sum() / y.sum()
        e_r = ((first @ (R[:, :n] - W).T) ** 2).sum() / y.sum()
        print(f"| {L['name']} | {rel_loss(Wp, R, H, signal):.3e} | {rel_loss(Wp, Wqp, H, signal):.3e} | "
              f"{rel_loss(Wp, Qr, H, signal):.3e} | {diff.max() / step:.2f} | {np.mean(diff > 1e-7 * step):.1e} | "
              f"{e_g:.3f} | {e_r:.3f} | {e_g / e_r:.1f} |")


if __name__ == '__main__':
    main()
