"""The exactly-once soak: a seeded random sequence of operations on a real project, the invariant
checked after every quiescent point (invariant.py).

    .venv/bin/python tests/python/soak.py --operations 5000 --seed 1      (make soak)

A step draws a few operations on the source (appends, inserts into gaps, updates in place,
deletes of rows and of whole stacks), maybe one on the registry (promote, roll back, a
threshold), maybe a write held open across the run (a late commit), then runs dbt in one
of four ways (a plain run, two runs at once, a run cancelled / terminated / its client
killed and then a plain run), and checks the invariant. The first violation stops it with
the seed and the step, which replay it. On Greenplum / Cloudberry (a project whose platform
is greenplum: test_greenplum_cluster.py) only what the platform follows is drawn: appends,
registry operations and every way of running.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from invariant import Operations, violations  # noqa: E402


@dataclass
class Report:
    seed: int
    steps: int = 0
    operations: int = 0
    seconds: float = 0.0
    history: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def describe(self) -> str:
        head = (
            f"seed {self.seed}: {self.steps} steps, {self.operations} operations, "
            f"{len(self.violations)} violations, {self.seconds:.0f} s"
        )
        if not self.violations:
            return head
        return "\n".join(
            [
                head,
                "replay: soak.py --seed %d --steps %d" % (self.seed, self.steps),
                "history:",
                *self.history,
                "violations:",
                *self.violations,
            ]
        )


# Greenplum / Cloudberry follow appended rows only (docs/reliability.md): a sequence there draws no
# insert below the stacked ids, update, delete or late commit (dbt test reports those instead; tested
# in test_greenplum_cluster.py), and runs every way of running in turn, so that a short sequence has
# runs at once and interrupted ones.
GREENPLUM_RUNS = ["plain", "at-once", "cancel", "terminate", "kill-client", "plain"]


def data_operation(ops: Operations) -> str:
    rng = ops.rng
    if ops.p.platform == "greenplum":
        ids = ops.append(rng.randint(1, 400))
        return f"append {len(ids)} ({ids[0]}..{ids[-1]})"
    kind = rng.choice(["append", "append", "gap", "update", "delete", "delete-stack"])
    if kind == "append":
        ids = ops.append(rng.randint(1, 400))
        return f"append {len(ids)} ({ids[0]}..{ids[-1]})"
    if kind == "gap":
        ids = ops.insert_in_gaps(rng.randint(1, 5))
        return f"insert in gaps {ids}"
    present = ops.ids()
    if not present:
        return "nothing to change"
    if kind == "update":
        ids = rng.sample(present, min(len(present), rng.randint(1, 5)))
        ops.update(ids)
        return f"update {sorted(ids)}"
    if kind == "delete":
        ids = rng.sample(present, min(len(present), rng.randint(1, 5)))
        ops.delete(ids)
        return f"delete {sorted(ids)}"
    stacks = ops.stack_ids()
    if not stacks:
        return "no stack to delete"
    stack = rng.choice(stacks)
    ops.delete(stack)
    return f"delete the stack {min(stack)}..{max(stack)} ({len(stack)} rows)"


def registry_operation(ops: Operations) -> str:
    rng = ops.rng
    kind = rng.choice(["promote", "rollback", "threshold"])
    champion = ops.champion()
    if kind == "threshold":
        t = round(rng.uniform(0.05, 0.95), 3)
        ops.set_threshold(champion, t)
        return f"threshold {t}"
    if kind == "rollback":
        result = ops.p.dbt("run-operation", "rollback_fraud_model", check=False)
        return f"rollback (exit {result.returncode})"
    other = next(v for v in ops.versions if v != champion)
    result = ops.p.dbt("run-operation", "promote_fraud_model", "--args", f"{{version: {other}}}", check=False)
    return f"promote {other} (exit {result.returncode})"


def late_write(ops: Operations):
    """A write whose transaction commits after the run: an insert (append or gap) or an update."""
    rng = ops.rng
    kind = rng.choice(["insert-append", "insert-gap", "update"])
    if kind == "update" and ops.ids():
        ids = rng.sample(ops.ids(), 2)
        sql = f"update {ops.p.raw_schema}.credit_card set v14 = v14 - 15, v12 = v12 - 15 where transaction_id = any(%s)"
        return f"late update {sorted(ids)}", ops.late(sql, [ids])
    ids = ops.free_ids_in_gaps(3) if kind == "insert-gap" else [max(ops.ids() or [0]) + 1 + i for i in range(3)]
    return f"late insert {ids}", ops.late(*ops._insert_sql(ids))


def run_operation(ops: Operations, kind: str | None = None) -> str:
    kind = kind or ops.rng.choice(["plain", "plain", "at-once", "cancel", "terminate", "kill-client"])
    if kind == "plain":
        ops.run()
    elif kind == "at-once":
        codes, outputs = ops.runs_at_once(2)
        if codes != [0, 0]:
            raise AssertionError("two runs at once: exit codes %s\n%s" % (codes, "\n".join(o[-2000:] for o in outputs)))
    else:
        interrupted = ops.interrupted_run(kind)
        ops.run()
        return f"run {kind} ({'interrupted' if interrupted else 'finished first'}), then a plain run"
    return f"run {kind}"


def run_sequence(
    p,
    seed: int,
    steps: int,
    operations: int | None = None,
    per_run: int = 4,
    minutes: float | None = None,
    log=lambda line: None,
) -> Report:
    """`steps` steps (or until `operations` operations) drawn from `seed` on project p (two registered
    versions: p.version_a, p.version_b)."""
    ops = Operations(p, random.Random(seed), [p.version_a, p.version_b])
    report = Report(seed)
    started = time.monotonic()
    deployed = {r[0] for r in p.query(f"select model_version from {p.fraud_schema}.deployments")}
    if p.version_b not in deployed:
        ops.add_challenger(p.version_b)
    greenplum = p.platform == "greenplum"
    runs = ops.rng.sample(GREENPLUM_RUNS, len(GREENPLUM_RUNS)) if greenplum else []
    for step in range(1, steps + 1):
        # on Greenplum the registry operation comes first: after appends a promotion is refused
        # (the version has not scored the new rows yet), and every step there appends
        done = [registry_operation(ops)] if greenplum and ops.rng.random() < 0.5 else []
        done += [data_operation(ops) for _ in range(ops.rng.randint(1, per_run))]
        if not greenplum and ops.rng.random() < 0.25:
            done.append(registry_operation(ops))
        late = None
        if not greenplum and ops.rng.random() < 0.3:
            what, late = late_write(ops)
            done.append(what)
        done.append(run_operation(ops, runs[(step - 1) % len(runs)] if greenplum else None))
        if late is not None:
            late.commit()
            done.append("late commit, then a plain run")
            ops.run()
        report.steps, report.operations = step, report.operations + len(done)
        report.history.append(f"step {step}: " + "; ".join(done))
        log(report.history[-1])
        report.violations = violations(p)
        if report.violations or (operations is not None and report.operations >= operations):
            break
        if minutes is not None and time.monotonic() - started > 60 * minutes:
            break
    report.seconds = time.monotonic() - started
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--operations", type=int, default=5000, help="stop after at least this many operations")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (replay)")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=None, help="stop after the step that passes this")
    parser.add_argument("--per-run", type=int, default=16, help="at most this many source operations between runs")
    args = parser.parse_args(argv)

    from dbtdb import drop_project, setup_project

    root = Path(tempfile.mkdtemp(prefix="fraud-soak-"))
    model_a, model_b = train_tiny(root / "model_a", seed=7), train_tiny(root / "model_b", seed=11)
    p = setup_project(_Factory(root), model_a, f"soak{os.getpid()}", rows=args.rows, seed=args.seed)
    p.extra_vars["fraud_batch_rows"] = 500
    from warehouse.connection import connection
    from warehouse.registry import register

    with connection() as conn:
        p.version_b = register(conn, model_b, p.fraud_schema)[0]
    p.dbt("run")
    report = run_sequence(
        p, args.seed, steps=args.steps or 10**9, operations=args.operations, per_run=args.per_run, log=print
    )
    print(report.describe())
    if not report.violations:
        drop_project(p)
    return 1 if report.violations else 0


def train_tiny(out: Path, seed: int) -> Path:
    """A real model, trained briefly (the tests' TINY configuration) on synthetic data."""
    from training import artifacts
    from training.config import TrainConfig
    from training.data import synthetic_dataset
    from training.train import cross_validate

    data = synthetic_dataset(20_000, seed=7, fraud_rate=0.01)
    config = TrainConfig(folds=2, epochs=1, batch_size=512, patience=0).replace(seed=seed)
    result = cross_validate(data.X, data.y, config, log=lambda msg: None)
    out.mkdir(parents=True, exist_ok=True)
    artifacts.save(result, data.describe(), out)
    return out


class _Factory:
    """What setup_project needs of pytest's tmp_path_factory."""

    def __init__(self, root: Path):
        self.root, self.n = root, 0

    def mktemp(self, name: str) -> Path:
        self.n += 1
        path = self.root / f"{name}{self.n}"
        path.mkdir()
        return path


if __name__ == "__main__":
    sys.exit(main())
