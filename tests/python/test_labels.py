"""Labels that arrive late (docs/labels.md): the loader against the real database, and
fraud_label_performance equal to its brute-force recomputation in Python (scores + the labels
known at each as-of date, PR-AUC by sklearn) after several label loads in sequence, with a
correction, a backdated load, and refused loads writing nothing.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from dbtdb import drop_project, query, setup_project
from sklearn.metrics import average_precision_score

from fraud_scoring.kaggle import DataError
from training.label_feed import label_rows
from warehouse.connection import connection
from warehouse.labels import TIME_ORIGIN, load_labels_csv, load_labels_from_class, parse_time, write_labels_csv

pytestmark = pytest.mark.database
SEEDS = [int(s) for s in os.environ.get("FRAUD_LABEL_SEEDS", "3").split(",")]
ORIGIN = parse_time(TIME_ORIGIN)
DAY = 86_400


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"lab{os.getpid()}", rows=3000, seed=43)
    # three days of data (the generator packs 3,000 rows into half an hour)
    query(f"update {p.raw_schema}.credit_card set time = time + (transaction_id % 3) * {DAY}")
    p.dbt("run")
    p.labels = f"{p.raw_schema}.credit_card_labels"
    p.transactions = f"{p.raw_schema}.credit_card"
    yield p
    drop_project(p, p.schema + "_dbt_test__audit")


def _events(p) -> list[tuple]:
    return query(f"select transaction_id, is_fraud, labeled_at, loaded_at from {p.labels} order by 1, 3")


def _load(p, rows, tmp_path, name: str) -> int:
    path = write_labels_csv(tmp_path / f"{name}.csv", rows)
    with connection() as conn:
        return load_labels_csv(conn, path, p.transactions)


def expected(p) -> dict:
    """(version, day, as_of_date) -> metrics, from the scores, the raw rows and the label events."""
    raw = {i: (int(t // DAY), a) for i, t, a in query(f"select transaction_id, time, amount from {p.transactions}")}
    thresholds = dict(query(f"select model_version, threshold from {p.schema}.fraud_deployments"))
    scores = query(f"select model_version, transaction_id, fraud_probability from {p.schema}.fraud_scores")
    events = [(i, f, at.astimezone(UTC).date(), at) for i, f, at, _ in _events(p)]
    by_day: dict[int, list] = {}
    for event in events:
        by_day.setdefault(raw[event[0]][0], []).append(event)
    out = {}
    for version, threshold in thresholds.items():
        probability = {i: s for v, i, s in scores if v == version}
        for day, day_events in by_day.items():
            scored = sum(1 for i in probability if raw[i][0] == day)
            for as_of in sorted({e[2] for e in day_events}):
                known = {}
                for i, f, d, _at in sorted(day_events, key=lambda e: e[3]):
                    if d <= as_of:
                        known[i] = f  # the latest event on or before as_of wins
                ids = [i for i in known if i in probability]
                if not ids:
                    continue
                y = np.array([known[i] for i in ids])
                s = np.array([probability[i] for i in ids])
                amount = np.array([raw[i][1] for i in ids])
                flagged = s >= threshold
                tp = int((flagged & y).sum())
                out[(version, day, as_of)] = {
                    "scored_rows": scored,
                    "labeled_rows": len(ids),
                    "label_coverage": len(ids) / scored,
                    "labeled_frauds": int(y.sum()),
                    "flagged": int(flagged.sum()),
                    "true_positives": tp,
                    "precision": tp / flagged.sum() if flagged.any() else None,
                    "recall": tp / y.sum() if y.any() else None,
                    "pr_auc": average_precision_score(y, s) if y.any() else None,
                    "amount_caught": float(amount[flagged & y].sum()),
                    "amount_missed": float(amount[~flagged & y].sum()),
                    "threshold": threshold,
                    "transaction_date": (ORIGIN + timedelta(days=day)).date(),
                }
    return out


def actual(p) -> dict:
    columns = [
        "scored_rows",
        "labeled_rows",
        "label_coverage",
        "labeled_frauds",
        "flagged",
        "true_positives",
        "precision",
        "recall",
        "pr_auc",
        "amount_caught",
        "amount_missed",
        "threshold",
        "transaction_date",
    ]
    rows = query(
        f"select model_version, transaction_day, as_of_date, {', '.join(columns)} "
        f"from {p.schema}.fraud_label_performance"
    )
    return {tuple(r[:3]): dict(zip(columns, r[3:], strict=True)) for r in rows}


def differences(p, seed: int) -> list[str]:
    want, got = expected(p), actual(p)
    if not any(w["pr_auc"] is not None for w in want.values()):
        return [f"seed {seed}: no row with a labeled fraud to compare"]
    out = [f"seed {seed}: missing row {k}" for k in want.keys() - got.keys()]
    out += [f"seed {seed}: extra row {k}" for k in got.keys() - want.keys()]
    for key in want.keys() & got.keys():
        for column, w in want[key].items():
            g = got[key][column]
            same = (
                (w is None and g is None)
                if w is None or g is None
                else math.isclose(float(w), float(g), rel_tol=1e-9, abs_tol=1e-9)
                if isinstance(w, float | np.floating)
                else w == g
            )
            if not same:
                out.append(f"seed {seed}: {key} {column}: expected {w}, got {g}")
    return out[:10]


def _xmins(p) -> dict:
    rows = query(
        f"select model_version, transaction_day, as_of_date, xmin::text from {p.schema}.fraud_label_performance"
    )
    return {tuple(r[:3]): r[3] for r in rows}


def _run(p) -> None:
    p.dbt("run", "--select", "stg_fraud__labels", "fraud_label_performance", "fraud_model_metrics")


@pytest.mark.parametrize("seed", SEEDS)
def test_performance_as_labels_land_equals_its_recomputation(project, tmp_path, seed):
    p = project
    query(f"truncate {p.labels}")
    p.dbt("run", "--select", "fraud_label_performance", "--full-refresh")
    raw = query(f"select transaction_id, time, class from {p.transactions} order by 1")

    ids, seconds, fraud = (np.array(c) for c in zip(*raw, strict=True))
    events = label_rows(seconds, fraud == 1, ORIGIN, seed=seed, ids=ids)
    cut1, cut2 = ORIGIN + timedelta(days=12), ORIGIN + timedelta(days=40)
    first = [e for e in events if e[2] < cut1]
    second = [e for e in events if cut1 <= e[2] < cut2]
    third = [e for e in events if e[2] >= cut2]
    # a backdated event in the second load (labeled before the first load's cut, loaded late)
    late = next(e for e in second if not e[1])
    second = [e for e in second if e is not late] + [(late[0], late[1], cut1 - timedelta(days=5))]
    # a correction in the third load: a transaction labeled in the first, relabeled later
    corrected = first[0]
    third.append((corrected[0], not corrected[1], cut2 + timedelta(days=1)))

    assert _load(p, first, tmp_path, "first") == len(first)
    _run(p)
    assert differences(p, seed) == []
    assert _load(p, second, tmp_path, "second") == len(second)
    _run(p)
    assert differences(p, seed) == []
    print(f"seed {seed}: {len(actual(p))} rows after two loads")
    before = _xmins(p)
    assert _load(p, third, tmp_path, "third") == len(third)
    _run(p)
    assert differences(p, seed) == []
    # incremental: rows before the third load's earliest date were not rewritten
    earliest = min(e[2] for e in third).astimezone(UTC).date()
    after = _xmins(p)
    kept = [k for k in before if k[2] < earliest]
    assert kept, f"seed {seed}: nothing before {earliest} to keep"
    assert all(after[k] == before[k] for k in kept), f"seed {seed}: rows before {earliest} recomputed"
    assert any(after[k] != before.get(k) for k in after if k[2] >= earliest)
    # a run with nothing new rewrites nothing
    _run(p)
    assert _xmins(p) == after
    # the decision layer reads the labels known now: the corrected label counts
    ((labeled, frauds),) = query(
        f"select labeled_rows, true_positives + false_negatives from {p.schema}.fraud_model_metrics "
        "where transaction_day is null"
    )
    final = {}
    for i, f, _ in sorted([*first, *second, *third], key=lambda e: e[2]):
        final[i] = f
    scored = {r[0] for r in query(f"select transaction_id from {p.schema}.fraud_scores")}
    assert labeled == sum(1 for i in final if i in scored)
    assert frauds == sum(1 for i, f in final.items() if f and i in scored)


def test_refused_loads_write_nothing_and_name_the_problem(project, tmp_path):
    p = project
    before = _events(p)
    (largest,) = query(f"select max(transaction_id) from {p.transactions}")[0]
    when = ORIGIN + timedelta(days=3)
    with pytest.raises(DataError, match=rf"not in {p.transactions} \(transaction_id {largest + 1}, {largest + 7}\)"):
        _load(p, [(1, True, when), (largest + 1, True, when), (largest + 7, False, when)], tmp_path, "unknown")
    with pytest.raises(DataError, match="two different labels for one transaction at the same labeled_at"):
        _load(p, [(2, True, when), (2, False, when)], tmp_path, "conflict")
    bad = tmp_path / "bad.csv"
    bad.write_text("transaction_id,label,labeled_at\n1,1,2013-09-03T00:00:00+00:00\n2,yes,2013-09-03T00:00:00Z\n")
    with connection() as conn, pytest.raises(DataError, match=r"bad.csv:3: label 'yes' is not 0, 1"):
        load_labels_csv(conn, bad, p.transactions)
    assert _events(p) == before


def test_the_class_as_a_label_feed(project):
    p = project
    query(f"truncate {p.labels}")
    with connection() as conn:
        added = load_labels_from_class(conn, p.transactions)
    raw = query(f"select transaction_id, class = 1, time from {p.transactions} where class is not null order by 1")
    events = _events(p)
    assert added == len(raw) == len(events)
    assert all(
        e[0] == r[0] and e[1] == r[1] and e[2] == ORIGIN + timedelta(seconds=r[2])
        for e, r in zip(events, raw, strict=True)
    )
    with connection() as conn:  # again: nothing new
        assert load_labels_from_class(conn, p.transactions) == 0
    stamp = datetime(2014, 1, 1, tzinfo=UTC)
    with connection() as conn:
        assert load_labels_from_class(conn, p.transactions, labeled_at=stamp) == len(raw)
    query(f"truncate {p.labels}")
