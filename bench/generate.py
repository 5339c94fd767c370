"""Writes two 1M-row, 20-column CSV files for the ingest benchmark: `v1.csv` (the previous
version) and `v2.csv` (the upload measured), 12 numeric and 8 categorical columns, the second a
little drifted. Seeded, so every run measures the same bytes."""
import sys

from spec import CATEGORIES, NUMERIC

import numpy as np
import pandas as pd

ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
OUT = sys.argv[1]


def make(seed, shift):
    rng = np.random.default_rng(seed)
    data = {"id": np.arange(ROWS, dtype=np.int64) + seed * ROWS}
    for i in range(11):
        data[f"x{i}"] = np.round(rng.normal(shift * (i % 3), 1.0 + 0.1 * i, ROWS), 6)
    for name, values in CATEGORIES.items():
        p = np.ones(len(values)) / len(values)
        if shift:
            p = p * np.linspace(1.0 - shift, 1.0 + shift, len(values))
            p = p / p.sum()
        data[name] = rng.choice(values, ROWS, p=p)
    return pd.DataFrame(data)


make(1, 0.0).to_csv(f"{OUT}/v1.csv", index=False)
make(2, 0.05).to_csv(f"{OUT}/v2.csv", index=False)
