"""Series 3: the 2017 in-database recipe, ported to Python 3 and Keras 3, on a throwaway cluster.

As in the post: a PL/Python transition function appends each row's float8[] to a
Python list in GD, the aggregate stacks a segment's rows (one group: PostgreSQL
has one segment), and score_keras loads the model with Keras inside the backend and returns
predict(...) > 0.5 (predict_classes no longer exists) as SETOF integer[]. It
crashed the server here at 2M rows, so it runs on its own cluster (scripts/db.sh
with another data directory and port); a crash is caught and reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psycopg2

from fraud_scoring.contract import project_contract
from warehouse.connection import connect
from warehouse.loading import load_csv

ROOT = Path(__file__).resolve().parent.parent
PGDATA = ROOT / ".pgdata-bench2017"
PORT = int(os.environ.get("FRAUD_BENCH2017_PORT", "55439"))

RECIPE_SQL = """
create or replace function stack_rows(state text, key text, features float8[]) returns text
language plpython3u as $$
    GD.setdefault(key, []).append(features)
    return key
$$;
drop aggregate if exists stack(text, float8[]);
create aggregate stack(text, float8[]) (sfunc = stack_rows, stype = text);
create or replace function score_keras(model_path text, key text, mean float8[], scale float8[])
returns setof integer[] language plpython3u as $$
    import numpy as np
    if 'model' not in SD:
        import keras
        SD['model'] = keras.models.load_model(model_path, compile=False)
    x = (np.array(GD.pop(key), dtype=np.float32) - np.array(mean, dtype=np.float32)) / np.array(scale, dtype=np.float32)
    return (SD['model'].predict(x, verbose=0) > 0.5).astype(int).tolist()
$$;
"""


def _db(*args: str) -> None:
    env = {**os.environ, "FRAUD_PGDATA": str(PGDATA), "FRAUD_PG_PORT": str(PORT)}
    subprocess.run([str(ROOT / "scripts" / "db.sh"), *args], env=env, check=True, stdout=subprocess.DEVNULL)


def _log_size() -> int:
    log = PGDATA / "server.log"
    return log.stat().st_size if log.exists() else 0


def _crash_lines(offset: int) -> list[str]:
    with open(PGDATA / "server.log", "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return [line for line in text.splitlines() if "terminated by signal" in line]


def run(sizes: list[int], repeats: int, csv_for, model_dir: Path, log) -> list[dict]:
    """One record per size: medians of the runs it survived, or how it crashed."""
    meta = json.loads((model_dir / "metadata.json").read_text())
    mean, scale = meta["scaler"]["mean"], meta["scaler"]["scale"]
    model_path = str((model_dir / "model.h5").resolve())
    _db("start")
    records = []
    try:
        conn = connect(port=PORT)
        with conn, conn.cursor() as cur:
            cur.execute(RECIPE_SQL)
        conn.close()
        for rows in sizes:
            conn = connect(port=PORT)
            load_csv(conn, csv_for(rows), "raw.credit_card")
            conn.close()
            samples, crash = [], None
            features = ", ".join(project_contract().columns)
            for i in range(repeats):
                offset = _log_size()
                conn = connect(port=PORT)
                started = time.perf_counter()
                try:
                    with conn.cursor() as cur:
                        cur.execute(
                            f"select count(*) from (select score_keras(%s, stack('0', array[{features}]), %s, %s) "
                            "from raw.credit_card) scored",
                            (model_path, mean, scale),
                        )
                        scored = cur.fetchone()[0]
                    samples.append(time.perf_counter() - started)
                    log(f"{rows:>9,} recipe_2017  run {i + 1}: {samples[-1]:.2f} s ({scored:,} rows)")
                except psycopg2.OperationalError as exc:
                    time.sleep(3)  # let the postmaster finish its crash restart before reading the log
                    crash = {"error": str(exc).strip().splitlines()[0], "server_log": _crash_lines(offset)}
                    log(f"{rows:>9,} recipe_2017  run {i + 1}: CRASHED the server: {crash['server_log']}")
                    break
                finally:
                    conn.close()
            records.append({"series": "recipe_2017", "rows": rows, "samples_s": samples, "crash": crash})
            if crash:
                break  # larger sizes would only crash again
    finally:
        _db("stop")
    return records


def bisect(survived: int, crashed: int, steps: int, csv_for, model_dir: Path, log) -> list[dict]:
    """Narrow down the largest size the recipe survives, one run per probe (a crash decides at once)."""
    probes = []
    for _ in range(steps):
        rows = (survived + crashed) // 2
        record = run([rows], 1, csv_for, model_dir, log)[0]
        probes.append(record)
        if record["crash"]:
            crashed = rows
        else:
            survived = rows
    return probes
