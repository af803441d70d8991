"""When the source changes, on the real database: bad feature values quarantined, rows deleted,
inserted below the highest id and corrected in place, and the whole source reloaded: a plain
`dbt run` follows each.

The tests run in order on one set of schemas of their own (test_*_src<pid>), built once,
and share its state.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from dbtdb import drop_project, query, scores, setup_project

from fraud_scoring.contract import project_contract
from fraud_scoring.scorer import load_scorer
from training import artifacts
from training.data import write_synthetic_csv
from warehouse.connection import connection
from warehouse.loading import load_csv

pytestmark = pytest.mark.database
FEATURES = ", ".join(project_contract().columns)


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"src{os.getpid()}", rows=3000, seed=99)
    p.dbt("build")
    yield p
    drop_project(p)


def test_bad_feature_values_are_quarantined_and_every_other_row_scored(project):
    """NULL, NaN, Infinity and values no float4 holds: the run scores the rest; the quarantine names each."""
    before = scores(project)
    table = f"{project.raw_schema}.credit_card"
    bad = {17: ("v5", "'NaN'", "NaN"), 18: ("v3", "null", "NULL"), 19: ("v28", "'-Infinity'", "Infinity"),
           20: ("v1", "1e300", "beyond float4 range"), 21: ("v2", "1e-300", "rounds to zero as a float4")}  # fmt: skip
    original = {
        i: query(f"select {c} from {table} where transaction_id = %s", (i,))[0][0] for i, (c, _, _) in bad.items()
    }
    for i, (column, value, _) in bad.items():
        query(f"update {table} set {column} = {value} where transaction_id = {i}")
    restack = ("run", "--select", "int_credit_card__scoring_stacks+", "--full-refresh")  # a corrected source row
    try:
        project.dbt(*restack)
        after = scores(project)
        assert sorted(after) == sorted(set(before) - set(bad))
        assert {i: after[i][:2] for i in after} == {i: before[i][:2] for i in after}
        quarantined = query(f"select transaction_id, column_name, reason from {project.schema}.fraud_quarantine")
        assert sorted(quarantined) == [(i, c.upper(), reason) for i, (c, _, reason) in sorted(bad.items())]
        warned = project.dbt("test", "--select", "fraud_quarantine_is_empty")
        assert "WARN 5 fraud_quarantine_is_empty" in warned.stdout
        project.dbt("test", "--exclude", "fraud_quarantine_is_empty")  # complete without the quarantined
        failed = project.dbt("test", "--select", "fraud_quarantine_is_empty", check=False,
                             fraud_quarantine_severity="error")  # fmt: skip
        assert failed.returncode != 0 and "FAIL 5 fraud_quarantine_is_empty" in failed.stdout
    finally:
        for i, (column, _, _) in bad.items():
            query(f"update {table} set {column} = %s where transaction_id = {i}", (original[i],))
        project.dbt(*restack)
    assert {i: v[:2] for i, v in scores(project).items()} == {i: v[:2] for i, v in before.items()}


def test_a_stack_whose_first_row_is_quarantined_is_scored_once(project):
    """Any score of a stack stands for it, whichever of its rows are quarantined: a later run neither
    scores it again (scores are appended, so the key would refuse the duplicate) nor leaves it unscored."""
    table = f"{project.raw_schema}.credit_card"
    top = query(f"select max(transaction_id) from {table}")[0][0]
    columns = ", ".join(["transaction_id", "time", FEATURES, "amount", "class"])
    source = f"select {{}}, time, {FEATURES}, amount, class from {table} where transaction_id = 7"
    query(f"insert into {table} ({columns}) {source.format(top + 1)} union all {source.format(top + 2)}")
    query(f"update {table} set v4 = 'NaN' where transaction_id = {top + 1}")
    try:
        project.dbt("run")
        first = scores(project)
        first_ids = query(f"select first_transaction_id from {project.schema}.int_credit_card__scoring_stacks")
        assert (top + 1,) in first_ids  # the new rows' stack starts with the quarantined row
        assert top + 1 not in first and first[top + 2][0] == first[7][0]
        project.dbt("run")
        assert scores(project) == first  # the same scores, scored_at included: nothing scored again
    finally:
        query(f"delete from {table} where transaction_id > {top}")
        project.dbt("run")


def changed_ids(project) -> tuple[list[int], bool]:
    """What stacking would take as written since the last stacking, and whether finding it scanned the source."""
    jinja = "{{ fraud_changed_source_ids(ref('int_credit_card__scoring_stacks')) }}"
    sql = project.dbt("compile", "--inline", jinja).stdout.split("Compiled inline node is:", 1)[1]
    plan = query("explain (analyze, verbose, format json) " + sql)[0][0][0]["Plan"]
    nodes, scanned = [plan], False
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if node.get("Relation Name") == "credit_card" and node.get("Schema") == project.raw_schema:
            scanned = scanned or node["Actual Loops"] > 0
    return sorted(r[0] for r in query(sql)), scanned


def test_stacking_reads_the_change_log_and_scans_the_source_only_when_the_log_may_be_incomplete(project):
    """The source's writes are logged by triggers that a replica session cannot switch off; while they
    stay as attached, stacking reads the log; once they have been touched, it scans the source (the
    same answer), and the next run attaches them again."""
    table = f"{project.raw_schema}.credit_card"
    triggers = query(f"select tgname, tgenabled from pg_trigger where tgrelid = '{table}'::regclass "
                     "and tgname like 'fraud_source_writes_%' order by 1")  # fmt: skip
    assert triggers == [(f"fraud_source_writes_{k}", "A") for k in ("delete", "insert", "update")]
    project.dbt("run")
    assert changed_ids(project) == ([], False)
    query(f"update {table} set v3 = v3 + 1 where transaction_id = 42")
    conn = project.connect()
    with conn, conn.cursor() as cur:  # a replica session's write is logged too (the triggers fire ALWAYS)
        cur.execute("set session_replication_role = replica")
        cur.execute(f"update {table} set v3 = v3 - 1 where transaction_id = 43")
    conn.close()
    assert changed_ids(project) == ([42, 43], False)
    query(f"alter table {table} disable trigger fraud_source_writes_update")
    query(f"alter table {table} enable always trigger fraud_source_writes_update")
    ids, scanned = changed_ids(project)
    assert scanned and {42, 43} <= set(ids)
    project.dbt("run")  # attaches them again; this run still scans, and records a snapshot the marker precedes
    assert changed_ids(project) == ([], False)
    left = query(f"select count(*) from {project.fraud_schema}.source_writes where transaction_ids is not null")
    assert left == [(0,)]  # what stacking read, it deleted
    project.dbt("test")


def test_a_reloaded_source_is_stacked_and_scored_anew(project, model_dir, tmp_path):
    """The loader swaps in a new table (same ids, other values): stacks of the earlier data are never scored."""
    csv = write_synthetic_csv(tmp_path / "reload.csv", 3000, seed=5, fraud_rate=0.01)
    with connection() as conn:
        load_csv(conn, csv, f"{project.raw_schema}.credit_card")
    # fraud_scores without the stacks model: the stored stacks are of the old table, so nothing is
    # scored, and no score of the old table survives (dbt test reports every transaction missing)
    project.dbt("run", "--select", "fraud_scores", fraud_model_version=project.version_a)
    assert scores(project) == {}
    missing = project.dbt("test", "--select", "fraud_scores_complete_for_every_deployed_model", check=False)
    assert missing.returncode != 0 and "Got 3000 results" in missing.stdout, missing.stdout[-2000:]
    # the stacks model drops the old table's stacks and stacks the new one's rows, which are then scored
    project.dbt("run", "--select", "int_credit_card__scoring_stacks+", fraud_model_version=project.version_a)
    rows = query(f"select transaction_id, {FEATURES} from {project.raw_schema}.credit_card")
    X = np.array([r[1:] for r in rows], dtype=np.float32)
    meta = artifacts.load_metadata(model_dir)
    expected = load_scorer((model_dir / artifacts.MODEL_FILE).read_bytes(), meta, "numpy").predict(X)
    s = scores(project)
    assert sorted(s) == sorted(r[0] for r in rows)
    assert all(np.float32(s[r[0]][0]) == p for r, p in zip(rows, expected, strict=True))  # the same bits
    stacked = query(
        f"select sum(n_rows), count(distinct source_table_id) from {project.schema}.int_credit_card__scoring_stacks"
    )
    assert stacked == [(3000, 1)]


def test_deleted_inserted_and_corrected_transactions_are_followed_by_a_plain_run(project):
    """A plain `dbt run` after deletions, an insertion below the highest id and an update in place."""
    table = f"{project.raw_schema}.credit_card"
    before = scores(project)
    query(f"delete from {table} where transaction_id in (100, 2500)")
    project.dbt("run")
    after = scores(project)
    assert sorted(after) == sorted(set(before) - {100, 2500})
    assert {i: v[:2] for i, v in after.items()} == {i: before[i][:2] for i in after}
    # transaction 100 again, with transaction 101's features: scored like 101
    query(f"insert into {table} select 100, time, {FEATURES}, amount, class from {table} where transaction_id = 101")
    project.dbt("run")
    again = scores(project)
    assert sorted(again) == sorted(set(before) - {2500})
    assert again[100][0] == again[101][0]
    # transaction 50 corrected in place (an UPDATE: same id, same count) to 60's features: found by
    # commit order (its new xmin), stacked and scored again
    assignments = ", ".join(f"v{i} = other.v{i}" for i in range(1, 29))
    query(f"update {table} as t set {assignments} from {table} as other "
          "where t.transaction_id = 50 and other.transaction_id = 60")  # fmt: skip
    assert again[50][0] != again[60][0]
    project.dbt("run")
    corrected = scores(project)
    assert corrected[50][0] == corrected[60][0]
    assert corrected[7][0] == before[7][0]
    project.dbt("test")


def test_a_reloaded_source_is_scored_anew_by_a_plain_run(project, model_dir, tmp_path):
    """Switching data (make demo, then make demo DATA=file): no score of the earlier data survives."""
    csv = write_synthetic_csv(tmp_path / "smaller.csv", 2000, seed=6, fraud_rate=0.01)
    with connection() as conn:
        load_csv(conn, csv, f"{project.raw_schema}.credit_card")
    project.dbt("run")
    s = scores(project)
    assert sorted(s) == list(range(1, 2001))
    rows = query(f"select transaction_id, {FEATURES} from {project.raw_schema}.credit_card order by transaction_id")
    X = np.array([r[1:] for r in rows], dtype=np.float32)
    meta = artifacts.load_metadata(model_dir)
    expected = load_scorer((model_dir / artifacts.MODEL_FILE).read_bytes(), meta, "numpy").predict(X)
    assert all(np.float32(s[r[0]][0]) == p for r, p in zip(rows, expected, strict=True))  # the same bits
    project.dbt("test")


def test_rows_of_a_stack_deleted_by_hand_above_the_others_are_stacked_and_scored_again(project):
    """Rows above every stored stack are read as one range of the key, written since the last
    stacking or not: the rows of the last stack, deleted by hand (no change to the source says they
    need stacking), are stacked again and scored once each by the next plain run."""
    small = {"fraud_batch_rows": 500}  # several stacks on the 3,000 rows
    project.dbt("run", "--select", "int_credit_card__scoring_stacks+", "--full-refresh", **small)
    before = scores(project)
    stacks = f"{project.schema}.int_credit_card__scoring_stacks"
    assert query(f"select count(*) from {stacks}")[0][0] >= 3
    ((first, last, gone),) = query(
        f"select first_transaction_id, last_transaction_id, stack_id from {stacks}"
        " order by first_transaction_id desc limit 1"
    )
    query(f"delete from {stacks} where stack_id = %s", (gone,))
    project.dbt("run", **small)
    after = scores(project)
    assert sorted(after) == sorted(before)
    assert {i: v[0] for i, v in after.items()} == {i: v[0] for i, v in before.items()}
    assert query(f"select first_transaction_id, last_transaction_id from {stacks} where first_transaction_id >= %s",
                 (first,)) == [(first, last)]  # fmt: skip
    assert query(f"select count(*) from {project.schema}.fraud_scores where stack_id = %s", (gone,)) == [(0,)]
    project.dbt("test", **small)
