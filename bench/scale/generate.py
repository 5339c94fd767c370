"""Writes an N-row, 20-column CSV (an integer id, 11 floats, 8 categorical columns: the ingest
benchmark's shape) in 1M-row chunks (written by polars), so that making a 16 GB file needs little memory. Seeded.

    python generate.py OUT.csv ROWS [SEED]
"""
import sys

import numpy as np
import polars as pl

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from spec import CATEGORIES  # noqa: E402

out, rows = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
CHUNK = 1_000_000
rng = np.random.default_rng(seed)
with open(out, "wb") as f:
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        data = {"id": np.arange(start, start + n, dtype=np.int64)}
        for i in range(11):
            data[f"x{i}"] = np.round(rng.normal(0.1 * (i % 3), 1.0 + 0.1 * i, n), 6)
        for name, values in CATEGORIES.items():
            data[name] = rng.choice(values, n)
        # polars writes CSV several times faster than pandas: a 16 GB file in minutes.
        pl.DataFrame(data).write_csv(f, include_header=start == 0)
        print(f"  {start + n:>12,} rows", file=sys.stderr, flush=True)
