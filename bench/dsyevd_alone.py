#!/usr/bin/env python3
"""Time LAPACK's dsyevd alone on a saved Hessian: the physical floor of a full spectrum.

Reads a P x P little-endian float64 matrix written by `pipeline bench ... --save-hessian FILE`
and times numpy.linalg.eigvalsh on it (Debian's numpy calls LAPACK dsyevd with jobz='N' from
liblapack.so.3, which is OpenBLAS here), REPS times, printing one JSON line with every time,
their median and the largest |eigenvalue| (to check it is the same matrix). Threads: set
OPENBLAS_NUM_THREADS before starting (bench/run.sh does).

Usage: dsyevd_alone.py FILE [REPS]
"""
import json, os, statistics, sys, time

import numpy as np


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    path = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    a = np.fromfile(path, dtype="<f8")
    n = int(round(len(a) ** 0.5))
    a = a.reshape(n, n)
    times = []
    for _ in range(reps):
        b = a.copy()
        t0 = time.perf_counter()
        ev = np.linalg.eigvalsh(b)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"case": "dsyevd", "P": n, "seconds": statistics.median(times), "times": times,
                      "abs_max": float(np.abs(ev).max()),
                      "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "")}))


if __name__ == "__main__":
    main()
