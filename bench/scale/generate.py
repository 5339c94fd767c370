"""Writes an N-row, 20-column CSV (an integer id, 11 floats, 8 categorical columns: the ingest
benchmark's shape) in 1M-row chunks (written by polars), so that making a 16 GB file needs little memory. Seeded.
With `--parts N`, OUT is a folder and the rows go to N Parquet files, part-00000.parquet on
(as a Spark export writes them), then an empty _SUCCESS.

    python generate.py OUT.csv ROWS [SEED]
    python generate.py OUT_DIR ROWS SEED --parts N
"""
import os
import sys

import numpy as np
import polars as pl

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from spec import CATEGORIES  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
out, rows = args[0], int(args[1])
seed = int(args[2]) if len(args) > 2 else 1
parts = int(sys.argv[sys.argv.index("--parts") + 1]) if "--parts" in sys.argv else 0
if parts:
    args.pop()
CHUNK = rows // parts if parts else 1_000_000
rng = np.random.default_rng(seed)


def chunk(start, n):
    data = {"id": np.arange(start, start + n, dtype=np.int64)}
    for i in range(11):
        data[f"x{i}"] = np.round(rng.normal(0.1 * (i % 3), 1.0 + 0.1 * i, n), 6)
    for name, values in CATEGORIES.items():
        data[name] = rng.choice(values, n)
    return pl.DataFrame(data)


if parts:
    os.makedirs(out, exist_ok=True)
    for part in range(parts):
        chunk(part * CHUNK, CHUNK).write_parquet(os.path.join(out, f"part-{part:05d}.parquet"))
    open(os.path.join(out, "_SUCCESS"), "w").close()
    print(f"  {parts} files, {parts * CHUNK:,} rows", file=sys.stderr, flush=True)
    sys.exit(0)
with open(out, "wb") as f:
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        # polars writes CSV several times faster than pandas: a 16 GB file in minutes.
        chunk(start, n).write_csv(f, include_header=start == 0)
        print(f"  {start + n:>12,} rows", file=sys.stderr, flush=True)
