#!/usr/bin/env python3
"""Run the PyTorch peer (peer_torch.py) with one extra initial point, "det".

det is a deterministic point both implementations can build without sharing an RNG:
W_k[i][j] = 0.1 * sin(k*d*d + i*d + j + 1) (layer k, row i, column j), the same as
`pipeline bench --init det` (pipeline/internal/bench). It lets the ReLU Hessian and a
linear Hessian away from w = 0 be compared value by value. Every other init is the peer's.

Usage: peer_check.py PEER_SCRIPT [peer arguments...]
"""
import importlib.util, math, sys

import torch


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    spec = importlib.util.spec_from_file_location("peer_torch", sys.argv[1])
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    orig = peer.init

    def init(kind, count, d, gen):
        if kind != "det":
            return orig(kind, count, d, gen)
        ws = []
        for k in range(count):
            w = torch.empty(d, d)
            for i in range(d):
                for j in range(d):
                    w[i, j] = 0.1 * math.sin(k * d * d + i * d + j + 1)
            ws.append(w)
        return ws

    peer.init = init
    sys.argv = [sys.argv[1]] + sys.argv[2:]
    peer.main()


if __name__ == "__main__":
    main()
