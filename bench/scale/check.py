"""Compares the gate's profile (tollgate's JSON report) with the exact values polars computed:
every sketched figure must be within the bound the report states."""
import json
import sys

report = json.load(open(sys.argv[1]))
exact = json.load(open(sys.argv[2]))
rows = report["profile"]["rows"]
worst = {"quantile_rank": 0.0, "distinct_rel": 0.0}
failed = []
for col in report["profile"]["columns"]:
    name, est = col["name"], col.get("estimated") or {}
    for key in ("count", "nulls"):
        want = exact[f"{name}|{'count' if key == 'count' else 'nulls'}"]
        got = col[key] if key == "nulls" else col["count"]
        if got != want:
            failed.append(f"{name}.{key}: {got} != {want}")
    if f"{name}|mean" in exact:
        for key in ("min", "max"):
            if col[key] != exact[f"{name}|{key}"]:
                failed.append(f"{name}.{key}: {col[key]} != {exact[f'{name}|{key}']}")
        if abs(col["mean"] - exact[f"{name}|mean"]) > 1e-9 * max(1, abs(exact[f"{name}|mean"])):
            failed.append(f"{name}.mean")
    if f"{name}|distinct" not in exact:
        continue  # a run too large for polars to count exactly (--light)
    d_true = exact[f"{name}|distinct"]
    rel = abs(col["distinct"] - d_true) / d_true
    worst["distinct_rel"] = max(worst["distinct_rel"], rel)
    bound = est.get("distinct_relative_error")
    if bound is not None and rel > 3 * bound:
        failed.append(f"{name}.distinct {col['distinct']} vs {d_true} (> 3 sigma)")
    if bound is None and rel != 0:
        failed.append(f"{name}.distinct {col['distinct']} vs {d_true} (said exact)")
# The true rank of each reported quantile, in one streaming pass over the data.
import polars as pl  # noqa: E402

data = sys.argv[3]
lf = pl.scan_csv(data) if data.endswith(".csv") else pl.scan_parquet(data)
probes, wanted = [], []
for col in report["profile"]["columns"]:
    for key, value in col.get("quantiles", {}).items():
        alias = f"{col['name']}|{key}"
        probes.append((pl.col(col["name"]) <= value).mean().alias(alias))
        wanted.append((alias, int(key[1:]) / 100, (col.get("estimated") or {}).get("quantile_rank_error")))
ranks = lf.select(probes).collect(engine="streaming").row(0, named=True)
for alias, q, bound in wanted:
    err = abs(ranks[alias] - q)
    worst["quantile_rank"] = max(worst["quantile_rank"], err)
    # Exact quantiles interpolate between neighbours: within one value's rank of q.
    if err > (bound if bound is not None else 0) + 2.0 / rows:
        failed.append(f"{alias}: true rank {ranks[alias]:.5f}, bound {bound}")
print(json.dumps({"rows": rows, "worst": worst, "failed": failed}))
sys.exit(1 if failed else 0)
