"""Faults and bad input against the real database: nothing half-written, nothing duplicated, no crash.

Each test says what it breaks. The server-level check (never restarted, no
terminated process in its log) runs last, in test_server_survived.py.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from dbtdb import DbtProject, drop_project, query, setup_project

from training.data import DataError, write_synthetic_csv
from warehouse.connection import connection
from warehouse.loading import load_csv

pytestmark = pytest.mark.database
HEADER = '"Time",' + ",".join(f'"V{i}"' for i in range(1, 29)) + ',"Amount","Class"'
ROW = "0," + ",".join(["0.5"] * 28) + ',1.5,"0"'
SLOW = {"fraud_batch_rows": 1}  # one stack per row: a run that lasts long enough to interrupt


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"rel{os.getpid()}", rows=3000, seed=3)
    p.dbt("run")
    yield p
    drop_project(p)


def scores(p: DbtProject) -> dict:
    columns = "transaction_id, fraud_probability, reason_codes, model_version, scored_at"
    rows = query(f"select {columns} from {p.schema}.fraud_scores")
    return {r[0]: r[1:] for r in rows}


def raw(p: DbtProject) -> list:
    return query(f"select count(*), sum(v1), max(transaction_id) from {p.raw_schema}.credit_card")


# ---- bad CSVs: a clear error with file and line, and the table as it was -----------


@pytest.mark.parametrize(
    "content, message",
    [
        (HEADER.replace('"V7",', "") + "\n" + ROW + "\n", ":1: header: missing columns ['V7']"),
        (HEADER + "\n" + ROW + "\n" + ROW[:25], ":3: expected 31 fields"),  # truncated last line
        ((HEADER + "\n" + ROW + "\n").encode() + b"0,\xe9\n", ":3: byte 3 of the line: not UTF-8"),
        (b"", "empty file"),
        (HEADER + "\n" + ROW + "\n" + ROW.replace("0.5", "9" * 150_000, 1) + "\n", ":3: malformed CSV: field larger"),
    ],
    ids=["wrong-header", "truncated-last-line", "non-utf8", "zero-bytes", "huge-field"],
)
@pytest.mark.parametrize("append", [False, True], ids=["load", "append"])
def test_a_bad_csv_is_a_clear_error_and_loads_nothing(project, tmp_path, content, message, append):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = raw(project)
    with connection() as conn, pytest.raises(DataError) as err:
        load_csv(conn, path, f"{project.raw_schema}.credit_card", append=append)
    assert str(path) in str(err.value) and message in str(err.value)
    assert raw(project) == before


def test_duplicated_rows_are_reported_with_their_lines_or_refused(project, tmp_path):
    path = tmp_path / "dups.csv"
    other = ROW.replace("1.5", "2.5")
    path.write_text("\n".join([HEADER, ROW, other, ROW, other, other]) + "\n")
    before = raw(project)
    with connection() as conn, pytest.raises(DataError, match=r"dups.csv:4: this row repeats line 2 exactly \(3 such"):
        load_csv(conn, path, f"{project.raw_schema}.credit_card", append=True, duplicates="error")
    assert raw(project) == before
    warnings = []
    with connection() as conn:
        assert load_csv(conn, path, f"{project.raw_schema}.credit_card", append=True, warn=warnings.append) == 5
    assert warnings and "dups.csv:4: this row repeats line 2 exactly" in warnings[0]
    query(f"delete from {project.raw_schema}.credit_card where transaction_id > %s", (before[0][2],))


# ---- interrupted and concurrent runs ---------------------------------------------------


def _scoring_backend(project: DbtProject, timeout: float = 60.0) -> int:
    """The pid of the backend running this project's scoring query (a full refresh's create table as), once it runs.

    pg_stat_activity keeps the first 1 kB of a query: match on the statement's start.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(
            "select pid from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and query like %s",
            (f'%create table "fraud"."{project.schema}"."fraud_scores__dbt_tmp"%',),
        )
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("the scoring query never started")


def _wait_gone(pid: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while query("select count(*) from pg_stat_activity where pid = %s", (pid,))[0][0]:
        assert time.monotonic() < deadline, f"backend {pid} still running"
        time.sleep(0.1)


# (how, runtime, seconds after the scoring statement starts). At 0 s the model is loading: the
# reader child (numpy), TensorFlow's import in the keras worker (seconds, more on a busy host);
# children.check_interrupts lets the cancel through whatever the moment, so no delay is a race.
INTERRUPTS = {
    "kill-client": ("kill-client", "numpy", 0.5),
    "cancel": ("cancel", "numpy", 0.5),
    "terminate": ("terminate", "numpy", 0.5),
    "cancel-at-once": ("cancel", "numpy", 0.0),
    "cancel-while-the-keras-worker-starts": ("cancel", "keras", 0.0),
    "terminate-while-the-keras-worker-starts": ("terminate", "keras", 0.0),
}


def test_a_parallel_workers_message_is_not_taken_for_a_cancel(project):
    """In a real backend, in parallel mode (the leader waits for its model reader while its workers
    score): InterruptPending alone (what a worker's message to the leader sets) lets the wait go
    on; with a cancel pending, the wait ends with the cancel's error. The backend's own flags, set
    and reset around each call."""
    body = """
import ctypes
from fraud_scoring import children
server = ctypes.CDLL(None)
interrupt, cancel = (ctypes.c_int.in_dll(server, n) for n in ("InterruptPending", "QueryCancelPending"))
said = []
server.EnterParallelMode()
try:
    interrupt.value = 1
    children.check_interrupts()
    said.append("a message: the wait goes on")
    cancel.value = 1
    try:
        children.check_interrupts()
        said.append("a cancel: the wait goes on")
    except plpy.Error as error:
        said.append("a cancel: " + str(error))
finally:
    cancel.value = interrupt.value = 0
    server.ExitParallelMode()
return said
"""
    said = query(
        f"create function pg_temp.interrupts() returns text[] language plpython3u as $body${body}$body$; "
        "select pg_temp.interrupts()"
    )[0][0]
    assert said == [
        "a message: the wait goes on",
        "a cancel: canceling statement: an interrupt arrived while the backend waited for a child process",
    ]


@pytest.mark.parametrize("interrupt", INTERRUPTS)
def test_an_interrupted_run_leaves_scores_as_they_were_and_the_next_run_completes(project, interrupt):
    how, runtime, delay = INTERRUPTS[interrupt]
    before = scores(project)
    models = ("int_credit_card__scoring_stacks", "fraud_scores")
    run = project.start("run", "--select", *models, "--full-refresh", fraud_scoring_runtime=runtime, **SLOW)
    pid = _scoring_backend(project)
    time.sleep(delay)
    if how == "kill-client":
        run.send_signal(signal.SIGKILL)
    else:
        assert query(f"select pg_{how}_backend(%s)", (pid,))[0][0]
    output = run.communicate(timeout=180)[0]
    assert run.returncode != 0, output[-2000:]
    if how == "cancel":
        assert "canceling statement due to user request" in output
    _wait_gone(pid)
    assert scores(project) == before  # not one row changed: the old table, whole
    project.dbt("run", "--select", *models)
    project.dbt("test", "--select", "fraud_scores")  # complete, unique, by the selected version


def test_two_runs_at_once_neither_duplicate_nor_lose_scores(project, tmp_path):
    extra = write_synthetic_csv(tmp_path / "more.csv", 300, seed=4, fraud_rate=0.01)
    with connection() as conn:
        load_csv(conn, extra, f"{project.raw_schema}.credit_card", append=True)
    runs = [
        project.start("run", "--select", "int_credit_card__scoring_stacks", "fraud_scores", **SLOW) for _ in range(2)
    ]
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    inserted = sorted(int(re.search(r"fraud_scores .*?INSERT 0 (\d+)", o).group(1)) for o in outputs)
    assert inserted == [0, 300]  # the second waited for the first, then found nothing left to score
    total, distinct = query(f"select count(*), count(distinct transaction_id) from {project.schema}.fraud_scores")[0]
    assert total == distinct == 3300


def test_scoring_everything_twice_gives_identical_scores(project):
    project.dbt("run", "--select", "fraud_scores+", "--full-refresh")
    first = scores(project)
    project.dbt("run", "--select", "fraud_scores+", "--full-refresh")
    second = scores(project)
    assert {i: v[:3] for i, v in first.items()} == {i: v[:3] for i, v in second.items()}
    assert all(second[i][3] > first[i][3] for i in first)  # rewritten, not left alone


def test_a_file_larger_than_one_copy_chunk_loads_every_row(project, tmp_path):
    """COPY reads the file in chunks of 5,000 rows: every chunk must arrive (a regression loaded only the first)."""
    table = f"{project.raw_schema}.big"
    path = write_synthetic_csv(tmp_path / "big.csv", 12_345, seed=8)
    with connection() as conn:
        assert load_csv(conn, path, table) == 12_345
    assert query(f"select count(*), min(transaction_id), max(transaction_id) from {table}") == [(12_345, 1, 12_345)]
    query(f"drop table {table}")
