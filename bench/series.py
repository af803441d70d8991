"""One measurement per process, so each series' peak memory is its own.

    python -m bench.series SERIES --rows N --model-dir DIR [--csv PATH] [--table T]

prints one JSON line: {"series", "rows", "seconds", "peak_rss_mb", ...}.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import struct
import time
from pathlib import Path

import numpy as np

from training import artifacts
from training.db import connection
from training.train import Scaler

FEATURES = [f"v{i}" for i in range(1, 29)]


def _scaled(x: np.ndarray, meta: dict) -> np.ndarray:
    return Scaler.from_dict(meta["scaler"]).transform(x)


def _keras_model(model_dir: Path):
    import keras

    return keras.models.load_model(model_dir / artifacts.MODEL_FILE, compile=False)


def native_2017(args, meta) -> dict:
    """The post's native path: pandas reads the CSV, Keras predicts (default batch 32), CSV out."""
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(args.csv)
    model = _keras_model(args.model_dir)
    prob = model.predict(_scaled(frame[[f.upper() for f in FEATURES]].to_numpy(np.float32), meta), verbose=0)
    out = Path(args.csv).with_suffix(".scores.csv")
    pd.DataFrame({"row": np.arange(1, len(frame) + 1), "fraud_probability": prob.reshape(-1)}).to_csv(out, index=False)
    return {"seconds": time.perf_counter() - started}


# COPY ... (FORMAT binary) rows of (bigint, 28 x float8) with no NULLs have a fixed
# width: field count, then (length, value) per field.
_FIELDS = [("nfields", ">i2"), ("id_len", ">i4"), ("id", ">i8")]
for _i in range(28):
    _FIELDS += [(f"len{_i}", ">i4"), (f"v{_i}", ">f8")]
_ROW = np.dtype(_FIELDS)


def native_well(args, meta) -> dict:
    """Native done well: binary COPY out into NumPy, predict in large batches, binary COPY back."""
    started = time.perf_counter()
    model = _keras_model(args.model_dir)
    with connection() as conn, conn.cursor() as cur:
        buf = io.BytesIO()
        cols = ", ".join(FEATURES)
        cur.copy_expert(f"copy (select transaction_id, {cols} from {args.table}) to stdout (format binary)", buf)
        data = buf.getbuffer()[19:-2]  # binary COPY header and trailer
        rows = np.frombuffer(data, dtype=_ROW)
        ids = rows["id"].astype(np.int64)
        x = np.stack([rows[f"v{i}"] for i in range(28)], axis=1).astype(np.float32)
        prob = model.predict(_scaled(x, meta), batch_size=8192, verbose=0).reshape(-1).astype(">f8")
        out = np.empty(len(ids), dtype=[("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("p", ">f8")])
        out["n"], out["l1"], out["id"], out["l2"], out["p"] = 2, 8, ids, 8, prob
        payload = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + out.tobytes() + struct.pack(">h", -1)
        cur.execute("drop table if exists bench_native_scores")
        cur.execute("create table bench_native_scores (transaction_id bigint, fraud_probability float8)")
        cur.copy_expert("copy bench_native_scores from stdin (format binary)", io.BytesIO(payload))
        conn.commit()
    return {"seconds": time.perf_counter() - started}


def floor(args, meta) -> dict:
    """The compute alone: predict on an in-memory float32 array (Keras batch 8192, and NumPy)."""
    from scoring.fraud_scorer import load_numpy_model
    from training.data import synthetic_dataset

    x = _scaled(synthetic_dataset(args.rows, seed=42).X, meta)
    model = _keras_model(args.model_dir)
    started = time.perf_counter()
    model.predict(x, batch_size=8192, verbose=0)
    keras_s = time.perf_counter() - started
    numpy_model = load_numpy_model((args.model_dir / artifacts.MODEL_FILE).read_bytes(), 28)
    started = time.perf_counter()
    numpy_model.predict(x)
    return {"seconds": keras_s, "keras_seconds": keras_s, "numpy_seconds": time.perf_counter() - started}


SERIES = {"native_2017": native_2017, "native_well": native_well, "floor": floor}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("series", choices=sorted(SERIES))
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--table")
    args = parser.parse_args()
    meta = artifacts.load_metadata(args.model_dir)
    result = SERIES[args.series](args, meta)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"series": args.series, "rows": args.rows, "peak_rss_mb": round(peak_mb, 1), **result}))


if __name__ == "__main__":
    main()
