"""The native side of bench.python_models: fraud_score_distribution's pandas code, outside the database.

What an analytics engineer would run: psycopg2 reads both tables into DataFrames (fetchall),
the model file's own distribution() aggregates them, COPY writes the result back. One
process, measured whole by bench.python_models.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
from pathlib import Path

import pandas as pd

from warehouse.connection import connect

MODEL = Path(__file__).resolve().parent / "pymodel_distribution.py"  # the model bench.python_models runs


def load_model_module():
    spec = importlib.util.spec_from_file_location("fraud_score_distribution", MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(cur, sql: str) -> pd.DataFrame:
    cur.execute(sql)
    return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", required=True)
    s = parser.parse_args(argv).schema
    conn = connect()
    with conn, conn.cursor() as cur:
        scores = read(cur, f"select transaction_id, model_version, fraud_probability from {s}.fraud_scores")
        labels = read(cur, f"select transaction_id, seconds_since_start from {s}.stg_raw__credit_card")
        out = load_model_module().distribution(scores, labels)
        cur.execute(f"drop table if exists {s}.distribution_native")
        cur.execute(
            f"create table {s}.distribution_native (model_version text, transaction_day integer, scored_rows bigint, "
            "mean_probability float8, p50_probability float8, p90_probability float8, p99_probability float8, "
            + ", ".join(f"histogram_{b:02d} bigint" for b in range(1, 11))
            + ")"
        )
        buf = io.StringIO()
        out.to_csv(buf, index=False, header=False)
        buf.seek(0)
        cur.copy_expert(f"copy {s}.distribution_native from stdin with csv", buf)
    conn.close()


if __name__ == "__main__":
    main()
