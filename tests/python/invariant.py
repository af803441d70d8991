"""The exactly-once invariant, checked against the real database, and the operations that try to break it.

The invariant: for every deployed model version, every scorable raw row has exactly one
score, equal to what that model gives for the row's current features; no deleted or
quarantined row has one. `violations` lists every way the database departs from it.

`Operations` are what a user, a loader or an operator does to the source and the
registry between and during `dbt run`s: appends, inserts into gaps between stacks,
inserts and updates that commit late (after a run has started, or finished),
updates in place, deletes of rows and of whole stacks, promotions and rollbacks,
threshold changes, runs at once, interrupted runs. `run_sequence` draws them from a
seeded generator, checks the invariant after every quiescent point, and names the
seed and the step of the first violation (replay with the same seed).
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from dataclasses import dataclass

import numpy as np
from dbtdb import DbtProject

from fraud_scoring.contract import project_contract
from fraud_scoring.scorer import load_scorer

FEATURES = project_contract().columns
FLOAT4_MAX = float(np.finfo(np.float32).max)


def scorable(rows: np.ndarray) -> np.ndarray:
    """Rows whose every feature becomes a finite float4 (stg_raw__credit_card.has_scorable_features)."""
    with np.errstate(invalid="ignore"):
        return np.all(np.isfinite(rows) & (np.abs(rows) <= FLOAT4_MAX), axis=1)


def expected_scores(p: DbtProject) -> dict[str, dict[int, float]]:
    """version -> {transaction_id: the model's probability on the row's current features}, per deployed version."""
    raw = p.query(f"select transaction_id, {', '.join(FEATURES)} from {p.raw_schema}.credit_card order by 1")
    ids = np.array([r[0] for r in raw], dtype=np.int64)
    x = np.array([[np.nan if v is None else v for v in r[1:]] for r in raw], dtype=np.float64).reshape(
        -1, len(FEATURES)
    )
    keep = scorable(x)
    ids, x = ids[keep], x[keep].astype(np.float32)
    deployed = p.query(
        f"select m.model_version, m.model_h5, m.metadata::text from {p.fraud_schema}.models as m "
        f"join {p.fraud_schema}.deployments as d using (model_version)"
    )
    out = {}
    for version, h5, metadata in deployed:
        scorer = load_scorer(bytes(h5), json.loads(metadata), "numpy")
        out[version] = dict(zip(ids.tolist(), scorer.predict(x).astype(np.float64).tolist(), strict=True))
    return out


def violations(p: DbtProject, limit: int = 10) -> list[str]:
    """Every departure from the invariant (at most `limit` per kind), as sentences; [] when it holds."""
    expected = expected_scores(p)
    stored: dict[str, dict[int, list[float]]] = {}
    for tid, version, probability in p.query(
        f"select transaction_id, model_version, fraud_probability from {p.schema}.fraud_scores"
    ):
        stored.setdefault(version, {}).setdefault(tid, []).append(probability)
    found = []
    for version, want in expected.items():
        have = stored.get(version, {})
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        twice = sorted(t for t, ps in have.items() if len(ps) > 1)
        wrong = sorted(t for t in set(want) & set(have) if np.float32(have[t][0]) != np.float32(want[t]))
        for what, ids in (
            ("missing", missing),
            ("scored but deleted or quarantined", extra),
            ("scored more than once", twice),
            ("stale (not the model's output now)", wrong),
        ):
            if ids:
                sample = ", ".join(
                    f"{t}" + (f" (stored {have[t][0]!r}, model {want[t]!r})" if what.startswith("stale") else "")
                    for t in ids[:limit]
                )
                found.append(f"{version}: {len(ids)} {what}: {sample}")
    return found


@dataclass
class Operations:
    """What happens to a project's source and registry, drawn from one seeded generator."""

    p: DbtProject
    rng: random.Random
    versions: list[str]

    # ---- the source --------------------------------------------------------------

    def _features(self, n: int) -> list[list[float]]:
        rows = []
        for _ in range(n):
            row = [round(self.rng.gauss(0, 1.5), 6) for _ in FEATURES]
            if self.rng.random() < 0.05:  # now and then a row that cannot be scored
                row[self.rng.randrange(len(row))] = float("nan")
            rows.append(row)
        return rows

    def _insert_sql(self, ids: list[int]) -> tuple[str, list]:
        cols = ["transaction_id", "time", *FEATURES, "amount", "class"]
        values, params = [], []
        for tid, feats in zip(ids, self._features(len(ids)), strict=True):
            values.append("(" + ", ".join(["%s"] * len(cols)) + ")")
            params += [tid, float(tid), *feats, round(self.rng.uniform(1, 500), 2), int(self.rng.random() < 0.02)]
        table = f"{self.p.raw_schema}.credit_card"
        return f"insert into {table} ({', '.join(cols)}) values {', '.join(values)}", params

    def ids(self) -> list[int]:
        return [r[0] for r in self.p.query(f"select transaction_id from {self.p.raw_schema}.credit_card order by 1")]

    def free_ids_in_gaps(self, n: int) -> list[int]:
        """Ids below the highest that no row has (between stacks, or inside one)."""
        present = self.ids()
        taken, top = set(present), present[-1] if present else 0
        pool = [i for i in range(1, top) if i not in taken]
        if len(pool) < n:
            pool += list(range(top + 1, top + 1 + n))
        return sorted(self.rng.sample(pool, n))

    def append(self, n: int) -> list[int]:
        top = max(self.ids() or [0])
        new = list(range(top + 1, top + 1 + n))
        self.execute(*self._insert_sql(new))
        return new

    def insert_in_gaps(self, n: int) -> list[int]:
        new = self.free_ids_in_gaps(n)
        self.execute(*self._insert_sql(new))
        return new

    def update(self, ids: list[int]) -> None:
        """Change the features of rows in place (two features moved far: another probability)."""
        self.execute(
            f"update {self.p.raw_schema}.credit_card set v14 = v14 - %s, v12 = v12 - %s where transaction_id = any(%s)",
            [self.rng.uniform(5, 20), self.rng.uniform(5, 20), ids],
        )

    def delete(self, ids: list[int]) -> None:
        self.execute(f"delete from {self.p.raw_schema}.credit_card where transaction_id = any(%s)", [ids])

    def stack_ids(self) -> list[list[int]]:
        rows = self.p.query(f"select transaction_ids from {self.p.schema}.int_credit_card__scoring_stacks order by 1")
        return [list(r[0]) for r in rows]

    def execute(self, sql: str, params=None) -> None:
        self.p.query(sql, params)

    def late(self, sql: str, params) -> LateCommit:
        """A transaction that writes now and commits when told: after a run has started or ended."""
        return LateCommit(self.p, sql, params)

    # ---- the registry ----------------------------------------------------------------

    def champion(self) -> str:
        sql = f"select model_version from {self.p.fraud_schema}.deployments where role = 'champion'"
        return self.p.query(sql)[0][0]

    def promote(self, version: str) -> None:
        self.p.dbt("run-operation", "promote_fraud_model", "--args", json.dumps({"version": version}))

    def add_challenger(self, version: str) -> None:
        self.p.dbt("run-operation", "add_fraud_challenger", "--args", json.dumps({"version": version}))

    def set_threshold(self, version: str, threshold: float) -> None:
        args = json.dumps({"version": version, "threshold": threshold})
        self.p.dbt("run-operation", "set_fraud_threshold", "--args", args)

    # ---- runs ----------------------------------------------------------------------------

    def run(self) -> None:
        self.p.dbt("run")

    def runs_at_once(self, n: int = 2) -> list[int]:
        runs = [self.p.start("run") for _ in range(n)]
        outputs = [r.communicate(timeout=600)[0] for r in runs]
        return [r.returncode for r in runs], outputs

    def interrupted_run(self, how: str) -> bool:
        """A `dbt run` interrupted once its scoring statement is under way (or finished: a run that
        beat the interruption is fine; what matters is the state after the next run). True when
        the run failed (it was interrupted), for the history."""
        run = self.p.start("run", fraud_batch_rows=max(1, self.rng.choice([1, 2, 5])))
        # the scoring statement: dbt's `create temporary table "fraud_scores__dbt_tmp..." as (...)`.
        # pg_stat_activity keeps a query's first 1 kB (track_activity_query_size), and score_stack( is
        # further in: match the statement's start, and this project by its fraud schema, which the
        # model's depends_on comment names a few lines in (a temporary table has no schema). Matching
        # score_stack found nothing, so every interrupted run ran to its end uninterrupted.
        # On Greenplum the scoring statement is dbt's INSERT reading the temporary view
        # "fraud_scores__dbt_tmp..." (fraud_append_through_view): the view is made in an instant,
        # the INSERT scores, so match the INSERT into this project's fraud_scores.
        marker = self.p.fraud_schema
        if self.p.platform == "greenplum":
            marker = f'"{self.p.schema}"."fraud_scores" ("transaction_id"'
        pid = wait_for_statement(self.p, "fraud_scores__dbt_tmp", run, marker=marker)
        if pid is not None:
            if how == "kill-client":
                run.send_signal(signal.SIGKILL)
            else:
                self.p.query(f"select pg_{how}_backend(%s)", (pid,))
        run.communicate(timeout=600)
        return run.returncode != 0


class LateCommit:
    """A writing transaction held open on its own connection until commit() (or rollback())."""

    def __init__(self, p: DbtProject, sql: str, params):
        self.conn = p.connect()
        self.cur = self.conn.cursor()
        self.cur.execute(sql, params)

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()

    def rollback(self) -> None:
        self.conn.rollback()
        self.conn.close()


def wait_for_statement(p: DbtProject, needle: str, process, timeout: float = 120.0, marker: str | None = None):
    """The pid of this project's backend running a statement containing `needle` and `marker` (default:
    the project's schema), once it runs; None if the process ended first. Both must be in the
    statement's first 1 kB, all pg_stat_activity keeps."""
    deadline = time.monotonic() + timeout
    sql = (
        "select pid from pg_stat_activity where state = 'active' and query like %s and query like %s "
        "and pid != pg_backend_pid() limit 1"
    )
    while time.monotonic() < deadline:
        rows = p.query(sql, (f"%{needle}%", f"%{marker or p.schema}%"))
        if rows:
            return rows[0][0]
        if process.poll() is not None:
            return None
        time.sleep(0.02)
    raise AssertionError(f"no statement with {needle!r} started within {timeout} s")


def run_in_background(fn, *args) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread
