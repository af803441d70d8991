"""The 2017 native path and the floor: one measurement per process, so each peak memory is its own.

    python -m bench.series SERIES --rows N --model-dir DIR [--csv PATH] [--table T]

prints one JSON line: {"series", "rows", "seconds", "peak_rss_mb", ...}.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from fraud_scoring.contract import project_contract
from training import artifacts
from training.train import Scaler


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
    prob = model.predict(_scaled(frame[list(project_contract().features)].to_numpy(np.float32), meta), verbose=0)
    out = Path(args.csv).with_suffix(".scores.csv")
    pd.DataFrame({"row": np.arange(1, len(frame) + 1), "fraud_probability": prob.reshape(-1)}).to_csv(out, index=False)
    return {"seconds": time.perf_counter() - started}


def floor(args, meta) -> dict:
    """The compute alone, on an in-memory float32 array: Keras predict (batch 8192), and the
    project's NumPy network with the threads the database's scoring calls use (every core)."""
    from fraud_scoring.scorer import Scorer
    from training.data import synthetic_dataset

    x = synthetic_dataset(args.rows, seed=42).X
    model = _keras_model(args.model_dir)
    scaled = _scaled(x, meta)
    started = time.perf_counter()
    model.predict(scaled, batch_size=8192, verbose=0)
    keras_s = time.perf_counter() - started
    numpy_scorer = Scorer((args.model_dir / artifacts.MODEL_FILE).read_bytes(), meta, "numpy")
    started = time.perf_counter()
    numpy_scorer.predict(x)
    return {"seconds": keras_s, "keras_seconds": keras_s, "numpy_seconds": time.perf_counter() - started}


SERIES = {"native_2017": native_2017, "floor": floor}


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
