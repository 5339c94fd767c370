"""The peer: polars' streaming engine scanning the same file and computing the per-column
aggregates the data gate reports (count, nulls, min, max, mean, std, the quantiles, distinct
counts), printing its in-process seconds. With `--exact OUT.json` it also writes the exact
values, to check the gate's sketched profile against (median, p01, p99 and distinct counts)."""
import json
import sys
import time

import polars as pl

path = sys.argv[1]
# Past 10M rows polars' exact quantiles and distinct counts hold every value (5.2 GB at 10M
# rows here): `--light` keeps to what streams in bounded memory (approx_n_unique, no quantiles).
light = "--light" in sys.argv
args = [a for a in sys.argv if a != "--light"]
start = time.perf_counter()
lf = pl.scan_csv(path) if path.endswith(".csv") else pl.scan_parquet(path)
schema = lf.collect_schema()
numeric = [c for c, t in schema.items() if t.is_numeric()]
aggs = []
for c in schema:
    distinct = pl.col(c).approx_n_unique() if light else pl.col(c).n_unique()
    aggs += [pl.col(c).count().alias(f"{c}|count"), pl.col(c).null_count().alias(f"{c}|nulls"),
             distinct.alias(f"{c}|{'approx_distinct' if light else 'distinct'}")]
for c in numeric:
    aggs += [pl.col(c).min().alias(f"{c}|min"), pl.col(c).max().alias(f"{c}|max"),
             pl.col(c).mean().alias(f"{c}|mean"), pl.col(c).std().alias(f"{c}|std")]
    if not light:
        aggs += [pl.col(c).quantile(q, "linear").alias(f"{c}|p{int(q * 100):02d}")
                 for q in (0.01, 0.5, 0.99)]
row = lf.select(aggs).collect(engine="streaming").row(0, named=True)
elapsed = time.perf_counter() - start
if len(args) > 3 and args[2] == "--exact":
    with open(args[3], "w") as f:
        json.dump(row, f)
print(elapsed)
