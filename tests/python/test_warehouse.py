"""The warehouse's own jobs: the raw table's loaded_at and its source freshness, a raw
table loaded before loaded_at existed, and the commands that moved out of training."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from dbtdb import ROOT, drop_project, query, setup_project

from training.data import write_synthetic_csv
from warehouse.connection import connection
from warehouse.loading import RAW_COLUMNS, load_csv, raw_table_ddl
from warehouse.names import NAME_PATTERNS, name_patterns
from warehouse.registry import SCHEMA_RE, VERSION_RE

ROWS = 300


# ---- no database needed -------------------------------------------------------


@pytest.mark.parametrize("platform", ["postgres", "greenplum"])
def test_the_raw_table_stamps_each_row_with_its_load_time_and_copy_never_supplies_it(platform):
    ddl = raw_table_ddl("raw.credit_card", platform)
    assert "loaded_at timestamptz not null default now()" in ddl
    assert "loaded_at" not in RAW_COLUMNS


def test_the_name_patterns_are_constants_the_macros_state_too():
    """Not vars: a pattern a var could replace would validate nothing."""
    patterns = name_patterns()
    assert VERSION_RE.pattern == patterns["model_version"].pattern == NAME_PATTERNS["model_version"]
    assert SCHEMA_RE.pattern == patterns["identifier"].pattern == NAME_PATTERNS["identifier"]
    macros = (ROOT / "macros" / "validation" / "fraud_name_pattern.sql").read_text()
    for kind, text in NAME_PATTERNS.items():
        assert f"'{kind}': '{text}'" in macros, kind
    assert "fraud_names" not in (ROOT / "dbt_project.yml").read_text()
    assert VERSION_RE.fullmatch("fraud-mlp-606da3383acf") and not VERSION_RE.fullmatch("x'; drop")
    assert SCHEMA_RE.fullmatch("fraud") and not SCHEMA_RE.fullmatch("Fraud")


@pytest.mark.parametrize("command", ["load", "register"])
def test_the_moved_training_commands_fail_naming_the_warehouse_ones(command):
    result = subprocess.run(
        [sys.executable, "-m", "training", command, "--csv", "x.csv"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: `python -m training {command}` is now `python -m warehouse {command}`"
    ]


def test_the_warehouse_commands_are_listed():
    result = subprocess.run([sys.executable, "-m", "warehouse", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "{load,labels,register}" in result.stdout


# ---- on the real server ---------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"wh{os.getpid()}", rows=ROWS, seed=11)
    yield p
    drop_project(p)


def freshness(project) -> subprocess.CompletedProcess:
    return project.dbt("source", "freshness", "--select", "source:fraud_scoring.raw.credit_card", check=False)


@pytest.mark.database
def test_source_freshness_reads_loaded_at_and_fails_on_a_feed_two_days_old(project):
    table = f"{project.raw_schema}.credit_card"
    stamped = query(
        f"select count(*), count(distinct loaded_at), max(now() - loaded_at) < interval '1 hour' from {table}"
    )
    assert stamped == [(ROWS, 1, True)]  # one load, one time, all rows
    fresh = freshness(project)
    assert fresh.returncode == 0 and "PASS freshness of" in fresh.stdout, fresh.stdout[-3000:]
    query(f"update {table} set loaded_at = now() - interval '30 hours'")
    late = freshness(project)
    assert late.returncode == 0 and "WARN freshness of" in late.stdout, late.stdout[-3000:]
    query(f"update {table} set loaded_at = now() - interval '3 days'")
    stale = freshness(project)
    assert stale.returncode != 0 and "ERROR STALE freshness of" in stale.stdout, stale.stdout[-3000:]
    query(f"update {table} set loaded_at = now()")


@pytest.mark.database
def test_a_raw_table_without_loaded_at_still_loads_and_scores_and_takes_the_column_later(project, tmp_path):
    table = f"{project.raw_schema}.credit_card"
    query(f"alter table {table} drop column loaded_at cascade")  # as an older loader created it
    extra = write_synthetic_csv(tmp_path / "more.csv", 50, seed=12, fraud_rate=0.02)
    with connection() as conn:
        assert load_csv(conn, extra, table, append=True) == 50
    assert "ERROR=0" in project.dbt("run").stdout
    assert query(f"select count(*) from {project.schema}.fraud_scores") == [(ROWS + 50,)]
    with connection() as conn:  # a reload keeps the table (and its shape): dependent views stay
        assert load_csv(conn, extra, table) == 50
    assert query(f"select count(*) from {table}") == [(50,)]
    # the upgrade in docs/operating.md: earlier rows get the time of the upgrade, later loads their own
    query(f"alter table {table} add column loaded_at timestamptz not null default now()")
    with connection() as conn:
        assert load_csv(conn, extra, table, append=True) == 50
    assert query(f"select count(*) from {table} where loaded_at is not null") == [(100,)]
    assert freshness(project).returncode == 0
    assert "ERROR=0" in project.dbt("run").stdout
