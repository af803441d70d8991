"""The labels loader's file checks and the synthetic labels feed, without a database
(tests/python/test_labels.py loads them into the real one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from fraud_scoring.kaggle import DataError
from training.label_feed import DAY, DISPUTE_WINDOW_DAYS, MAX_DELAY_DAYS, label_events
from warehouse.cli import main
from warehouse.labels import TIME_ORIGIN, read_labels_csv, write_labels_csv

ROOT = Path(__file__).resolve().parents[2]
HEADER = "transaction_id,label,labeled_at\n"


def _file(tmp_path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text(header + body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,1,2013-09-03T00:00:00+00:00\nx,1,2013-09-03T00:00:00+00:00\n", r":3: transaction_id 'x' is not an integer"),
        ("1,2,2013-09-03T00:00:00+00:00\n", r":2: label '2' is not 0, 1, true or false"),
        ("1,,2013-09-03T00:00:00+00:00\n", r":2: label '' is not 0, 1"),
        ("1,1,2013-13-03T00:00:00+00:00\n", r":2: labeled_at '2013-13-03T00:00:00\+00:00': it is not an ISO 8601 time"),
        ("1,1,yesterday\n", r":2: labeled_at 'yesterday': it is not an ISO 8601 time"),
        ("1,1,2013-09-03 00:00:00\n", r":2: labeled_at '2013-09-03 00:00:00': it has no time zone"),
        ("1,1\n", r":2: expected 3 fields, got 2"),
    ],
)
def test_a_bad_line_is_refused_naming_file_line_and_problem(tmp_path, body, message):
    with pytest.raises(DataError, match=rf"labels\.csv{message}.*nothing was loaded"):
        read_labels_csv(_file(tmp_path, body))


def test_a_wrong_header_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"labels\.csv:1: the header must be transaction_id,label,labeled_at"):
        read_labels_csv(_file(tmp_path, "1,1,2013-09-03T00:00:00Z\n", header="id,class,time\n"))


def test_a_written_file_reads_back(tmp_path):
    at = datetime(2013, 9, 3, 4, 5, 6, 789, tzinfo=UTC)
    rows = [(1, True, at), (2, False, at + timedelta(days=1)), (1, False, at + timedelta(seconds=1))]
    assert read_labels_csv(write_labels_csv(tmp_path / "l.csv", rows)) == rows
    assert read_labels_csv(_file(tmp_path, "7,TRUE,2013-09-03 08:00Z\n8,false,2013-09-03T08:00:00-05:00\n")) == [
        (7, True, datetime(2013, 9, 3, 8, tzinfo=UTC)),
        (8, False, datetime(2013, 9, 3, 13, tzinfo=UTC)),
    ]


def test_the_cli_reports_a_bad_file_and_exits_2(tmp_path, capsys):
    assert main(["labels", "--csv", str(_file(tmp_path, "1,maybe,2013-09-03T00:00:00Z\n"))]) == 2
    assert "label 'maybe' is not 0, 1, true or false" in capsys.readouterr().err
    assert main(["labels", "--from-class", "--labeled-at", "soon"]) == 2
    assert "--labeled-at 'soon'" in capsys.readouterr().err


def test_the_time_origin_is_dbts():
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    assert project["vars"]["fraud_time_origin"] == TIME_ORIGIN


def test_the_feed_has_realistic_delays_and_is_deterministic():
    rng = np.random.default_rng(0)
    n = 20_000
    time = np.sort(rng.uniform(0, 2 * DAY, n))
    fraud = rng.random(n) < 0.05
    ids, is_fraud, at = label_events(time, fraud, seed=5)
    again = label_events(time, fraud, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip((ids, is_fraud, at), again, strict=True))
    assert not np.array_equal(label_events(time, fraud, seed=6)[2], at)
    delay = (at - time[ids - 1]) / DAY
    assert (delay > 0).all()
    # frauds: the chargeback, median about 10 days, none after 90
    last = np.r_[ids[1:] != ids[:-1], True]  # each transaction's last event is its label
    chargebacks = delay[last & fraud[ids - 1]]
    assert 7 < np.median(chargebacks) < 14 and chargebacks.max() <= MAX_DELAY_DAYS
    # legitimate: most at the dispute window's close, some sooner, some never
    legit = delay[last & ~fraud[ids - 1]]
    assert 0.7 < np.mean(legit >= DISPUTE_WINDOW_DAYS) < 0.9
    assert np.mean(legit < DISPUTE_WINDOW_DAYS) > 0.1
    assert 0.9 * n < len(np.unique(ids)) < n
    # corrections: a fraud's earlier legitimate label, before its chargeback
    repeated = ids[1:] == ids[:-1]
    assert repeated.any() and (~is_fraud[:-1][repeated]).all() and is_fraud[1:][repeated].all()
