"""The native counterparts of `dbt run`: whole processes, the way a data engineer would write them.

    python -m bench.native --runtime numpy|keras --model-dir DIR --source RAW_TABLE --target SCORES_TABLE
        [--new-only]

Rescore everything (default): binary COPY of the raw table out, the model's
forward pass (the project's own NumPy network, or Keras predict at batch 8,192),
binary COPY of the scores into a new table of fraud_scores' shape, its primary
key, then it replaces the old table, committed: what `dbt run --full-refresh`
does. --new-only: only transactions without a score from this model version
(an anti-join), appended to the scores table: what an incremental `dbt run` does.
Prints one JSON line with the seconds of each phase.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import struct
import time
from pathlib import Path

import numpy as np

from fraud_scoring import RUNTIMES
from fraud_scoring import model_format as artifacts
from fraud_scoring.contract import project_contract
from warehouse.connection import connection

PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01, binary COPY's timestamptz origin
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)


@functools.cache
def features() -> tuple[str, ...]:
    """The feature columns (the stack contract in dbt_project.yml, read when first used)."""
    return project_contract().columns


@functools.cache
def in_row() -> np.dtype:
    """Binary COPY rows of (bigint, one float8 per feature) without NULLs: field count, then
    (length, value) per field."""
    fields = [("nfields", ">i2"), ("id_len", ">i4"), ("id", ">i8")]
    for i in range(len(features())):
        fields += [(f"len{i}", ">i4"), (f"v{i}", ">f8")]
    return np.dtype(fields)


SCORES_DDL = """create table {table} (
    transaction_id bigint not null,
    fraud_probability double precision not null,
    is_fraud boolean not null,
    model_version text not null,
    scored_at timestamp with time zone not null
)"""


def read_features(cur, source: str, only_unscored_in: str | None, version: str):
    """(ids, float32 features) by binary COPY; only_unscored_in: skip ids scored by `version` there."""
    where = ""
    if only_unscored_in:
        where = (
            f" where not exists (select 1 from {only_unscored_in} s where s.transaction_id = r.transaction_id"
            f" and s.model_version = '{version}')"
        )
    buf = io.BytesIO()
    sql = f"copy (select r.transaction_id, {', '.join('r.' + f for f in features())} from {source} r{where})"
    cur.copy_expert(sql + " to stdout (format binary)", buf)
    rows = np.frombuffer(buf.getbuffer()[len(HEADER) : -len(TRAILER)], dtype=in_row())
    x = np.empty((len(rows), len(features())), dtype=np.float32)
    for i in range(len(features())):
        x[:, i] = rows[f"v{i}"]
    return rows["id"].astype(np.int64), x


def scores_payload(ids, prob, threshold: float, version: str, scored_at_us: int) -> bytes:
    """Binary COPY rows of fraud_scores' five columns."""
    v = version.encode()
    row = np.dtype(
        [("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("p", ">f8"), ("l3", ">i4"), ("f", "u1"),
         ("l4", ">i4"), ("v", f"S{len(v)}"), ("l5", ">i4"), ("t", ">i8")]
    )  # fmt: skip
    out = np.empty(len(ids), dtype=row)
    out["n"], out["l1"], out["id"], out["l2"], out["p"] = 5, 8, ids, 8, prob
    out["l3"], out["f"], out["l4"], out["v"], out["l5"], out["t"] = 1, prob >= threshold, len(v), v, 8, scored_at_us
    return HEADER + out.tobytes() + TRAILER


def load_model(runtime: str, model_dir: Path, meta: dict):
    """A function from raw float32 features to probabilities."""
    h5 = (model_dir / artifacts.MODEL_FILE).read_bytes()
    if runtime == "numpy":
        from fraud_scoring.scorer import Scorer

        return Scorer(h5, meta, "numpy").predict
    import keras

    from training.train import Scaler

    model = keras.models.load_model(model_dir / artifacts.MODEL_FILE, compile=False)
    scaler = Scaler.from_dict(meta["scaler"])
    return lambda x: model.predict(scaler.transform(x), batch_size=8192, verbose=0).reshape(-1).astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", choices=RUNTIMES, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--source", required=True, help="the raw table")
    parser.add_argument("--target", required=True, help="the scores table (schema.table)")
    parser.add_argument("--new-only", action="store_true")
    args = parser.parse_args()
    phases = {}
    started = time.perf_counter()
    meta = artifacts.load_metadata(args.model_dir)
    predict = load_model(args.runtime, args.model_dir, meta)
    version, threshold = meta["model_version"], float(meta.get("threshold", 0.5))
    phases["start_s"] = time.perf_counter() - started
    with connection() as conn, conn.cursor() as cur:
        t = time.perf_counter()
        ids, x = read_features(cur, args.source, args.target if args.new_only else None, version)
        phases["copy_out_s"] = time.perf_counter() - t
        t = time.perf_counter()
        prob = predict(x)
        phases["predict_s"] = time.perf_counter() - t
        t = time.perf_counter()
        cur.execute("select (extract(epoch from now()) * 1000000)::bigint")
        payload = scores_payload(ids, prob, threshold, version, cur.fetchone()[0] - PG_EPOCH_US)
        schema, table = args.target.split(".")
        if args.new_only:
            cur.copy_expert(f"copy {args.target} from stdin (format binary)", io.BytesIO(payload))
        else:  # a new table, keyed, then swapped in: readers see the old scores until the commit
            cur.execute(f"drop table if exists {schema}.{table}__new")
            cur.execute(SCORES_DDL.format(table=f"{schema}.{table}__new"))
            cur.copy_expert(f"copy {schema}.{table}__new from stdin (format binary)", io.BytesIO(payload))
            cur.execute(f"drop table if exists {args.target}")
            cur.execute(f"alter table {schema}.{table}__new rename to {table}")
            cur.execute(f"alter table {args.target} add primary key (transaction_id)")
        conn.commit()
        phases["copy_in_s"] = time.perf_counter() - t
    print(json.dumps({"rows": len(ids), **{k: round(v, 3) for k, v in phases.items()}}))


if __name__ == "__main__":
    main()
