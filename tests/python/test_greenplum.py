"""The Greenplum / Cloudberry path, as far as it can be tested without a Greenplum server.

The SQL it compiles to is checked for its key clauses (and for PostgreSQL-only
clauses that must not leak into it, and the reverse); the segment probe's
report is checked on made-up probe rows; the raw table's DDL per platform.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from dbtdb import ROOT, drop_project, query, setup_project

from training.data import write_synthetic_csv
from warehouse.connection import connection
from warehouse.loading import load_csv, raw_table_ddl

GREENPLUM = {"fraud_platform": "greenplum"}


def sql_clauses(sql: str) -> str:
    """SQL without the PL/Python bodies and -- comments, lowercased: what the server parses as SQL."""
    sql = re.sub(r"\$fraud_scorer\$.*?\$fraud_scorer\$", "$body$", sql, flags=re.S)
    return re.sub(r"--[^\n]*", "", sql).lower()


# ---- no database needed -------------------------------------------------------


def test_greenplum_raw_table_is_append_optimized_compressed_and_randomly_distributed():
    ddl = raw_table_ddl("raw.credit_card", "greenplum")
    assert "appendonly=true" in ddl and "compresstype=zstd" in ddl
    assert ddl.endswith("distributed randomly")
    assert "primary key" not in ddl  # Greenplum wants the distribution key inside every unique key
    assert raw_table_ddl("raw.credit_card", "greenplum", "transaction_id").endswith("distributed by (transaction_id)")


def test_postgres_raw_table_has_a_key_and_no_greenplum_clauses():
    ddl = raw_table_ddl("raw.credit_card")
    assert "transaction_id bigint primary key" in ddl
    assert "distributed" not in ddl and "appendonly" not in ddl


@pytest.mark.parametrize(
    "platform, column, message",
    [("greenplum", "v1; drop table x", "cannot distribute by"), ("postgres", "transaction_id", "Greenplum")],
)
def test_raw_table_distribution_is_validated(platform, column, message):
    with pytest.raises(ValueError, match=message):
        raw_table_ddl("raw.credit_card", platform, column)


# ---- compiled by dbt (the registry is read at compile time) ---------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir):
    p = setup_project(tmp_path_factory, model_dir, f"gp{os.getpid()}", rows=200, seed=5)
    yield p
    drop_project(p)


def inline(project, jinja: str, **vars) -> str:
    """What dbt compiles a piece of Jinja to, with the project's macros and vars."""
    result = project.dbt("compile", "--inline", jinja, **vars)
    return result.stdout.split("Compiled inline node is:", 1)[1]


def compiled(project, name: str, **vars) -> str:
    return project.compile_model(name, **vars)[1]


@pytest.mark.database
def test_greenplum_install_ddl_replicates_the_registry_and_has_no_postgres_only_clauses(project):
    ddl = sql_clauses(inline(project, "{{ fraud_scoring_ddl('fraud') }}", **GREENPLUM))
    # models, installation, deployments, their history and the threshold audit: every segment reads
    # them locally (and the published Python models, read on the coordinator, like the rest of the registry)
    assert ddl.count("distributed replicated") == 6
    assert "parallel" not in ddl  # Greenplum 6 (PostgreSQL 9.4) does not parse PARALLEL labels
    assert "on conflict" not in ddl  # nor upserts
    assert "language plpython3u" in ddl


@pytest.mark.database
def test_postgres_install_ddl_has_no_greenplum_clauses_and_labels_parallel_safety(project):
    ddl = sql_clauses(inline(project, "{{ fraud_scoring_ddl('fraud') }}"))
    assert "distributed" not in ddl and "gp_" not in ddl
    numpy_fn = ddl[ddl.index("function fraud.score_stack_numpy") :].split("$body$")[0]
    keras_fn = ddl[ddl.index("function fraud.score_stack_keras") :].split("$body$")[0]
    assert "parallel safe" in numpy_fn
    assert "parallel unsafe" in keras_fn  # TensorFlow in a parallel worker crashed the server
    # the roles' entry point: the numpy scorer under it runs in parallel workers (keras: in a child process)
    entry = ddl[ddl.index("function fraud.score_stack(") :]
    assert "security definer parallel safe" in entry
    assert "set search_path = pg_catalog, pg_temp" in entry


@pytest.mark.database
def test_greenplum_stacks_are_distributed_by_batch_and_analyzed(project):
    jinja = "{{ fraud_distribute_stacks(api.Relation.create(schema='s', identifier='t')) }}"
    hook = sql_clauses(inline(project, jinja, **GREENPLUM))
    assert "pg_get_table_distributedby('s.t'::regclass)" in hook
    assert "alter table s.t set distributed by (batch_id)" in hook
    assert "analyze s.t" in hook
    assert inline(project, jinja).strip() == ""  # PostgreSQL: no hook at all


@pytest.mark.database
def test_greenplum_stacks_group_rows_by_their_placement_key_not_the_segment(project):
    stacks_sql = sql_clauses(compiled(project, "int_credit_card__scoring_stacks", **GREENPLUM))
    assert re.search(r"group by batch_id\b", stacks_sql)
    # each row's batch_id is a placement key read from the install's segment_keys:
    # lane (id - base) % segments of block (id - base) / (batch_rows x segments)
    assert "from test_fraud_gp" in stacks_sql and ".segment_keys" in stacks_sql
    assert re.search(r"/ 100000 \* 1\s*\+ \(staged.transaction_id - 0\) % 1 \+ 1", stacks_sql), stacks_sql
    # grouping by gp_segment_id makes the planner redistribute: only the keys' ranking reads it
    outside_keys = re.sub(r"\(\s*select array_agg\(ranked\.key.*?\)\[", "(keys)[", stacks_sql, count=1, flags=re.S)
    assert "(keys)[" in outside_keys
    assert "gp_segment_id" not in outside_keys, outside_keys
    assert "lateral" not in stacks_sql  # the range scans need the source's key index: PostgreSQL only
    scores_sql = sql_clauses(compiled(project, "fraud_scores", **GREENPLUM))
    # the default threads: the host's cores shared by the primaries of the busiest host (1 here)
    assert re.search(r"score_stack\(.*'numpy',\s*[0-9.e-]+, -1,\s*true\s*\) as scored", scores_sql, re.S), scores_sql
    assert re.search(r"score_stack\(.*'numpy',\s*[0-9.e-]+, 3,\s*true\s*\) as scored", sql_clauses(
        compiled(project, "fraud_scores", **GREENPLUM, fraud_scoring_threads=3)), re.S)  # fmt: skip
    postgres_sql = sql_clauses(compiled(project, "fraud_scores"))
    assert re.search(r"score_stack\(.*'numpy',\s*[0-9.e-]+, 0,\s*true\s*\) as scored", postgres_sql, re.S)
    # scoring reads the stored stacks alone, on both platforms (changes are the stacks model's)
    assert "lateral" not in scores_sql and "lateral" not in postgres_sql


@pytest.mark.database
def test_new_scores_append_through_a_view_on_greenplum_and_new_stacks_on_postgres(project, tmp_path):
    """fraud_append_through_view lists platforms. New scores: on Greenplum an INSERT from a temporary
    view (the query runs on every segment inside dbt's INSERT, each row written once); PostgreSQL
    keeps dbt's temporary table, whose CREATE TABLE AS can spread the scoring calls over parallel
    workers. New stacks: on PostgreSQL through a view (wide rows written once, not twice)."""
    view = "{{ _fraud_temporary_view(api.Relation.create(identifier='t'), 'select 1 as x') }}"
    assert re.search(r"create temporary view\s+\"?t\"?\s+as \(\s*select 1 as x\s*\);", inline(project, view))
    bad = project.dbt("compile", "--inline", "{{ _fraud_platform_list(['postgres', 'oracle']) }}", check=False)
    assert bad.returncode != 0 and "fraud_append_through_view" in bad.stdout and "oracle" in bad.stdout
    project.dbt("run", "--select", "+fraud_scores")  # the tables exist: the next run is incremental
    extra = write_synthetic_csv(tmp_path / "more.csv", 5, seed=101)
    with connection() as conn:
        load_csv(conn, extra, f"{project.raw_schema}.credit_card", append=True)
    second = project.dbt("run", "--debug", "--select", "int_credit_card__scoring_stacks", "fraud_scores")
    assert 'create temporary table "fraud_scores__dbt_tmp' in second.stdout
    assert 'create temporary view "int_credit_card__scoring_stacks__dbt_tmp' in second.stdout
    assert 'create temporary table "int_credit_card__scoring_stacks__dbt_tmp' not in second.stdout
    assert project.query(
        f"select count(*) from {project.schema}.int_credit_card__scoring_stacks"
        f" where last_transaction_id = (select max(transaction_id) from {project.raw_schema}.credit_card)"
    ) == [(1,)]


@pytest.mark.database
def test_scoring_reads_only_stored_stacks_on_both_platforms(project):
    """Stacking is the stacks model's alone: fraud_scores never reads or aggregates the source's rows."""
    for platform in (GREENPLUM, {}):
        scores_sql = sql_clauses(compiled(project, "fraud_scores", **platform))
        assert "stg_raw__credit_card" not in scores_sql and "string_agg" not in scores_sql, scores_sql


@pytest.mark.database
def test_the_platform_is_asked_once_per_run_and_not_when_var_fraud_platform_names_it(project):
    """fraud_platform() asks the server (select version()) once per dbt invocation: the
    answer is kept in `graph`, which every node of the run shares, however many macros
    dispatch on it (on-run-start, the stacks and scores models, their hooks)."""
    asked = "fraud_platform: asked the server (select version()): postgres"
    result = project.dbt("run", "--debug")
    assert result.stdout.count(asked) == 1, [line for line in result.stdout.splitlines() if "fraud_platform" in line]
    assert "score_stack(" in result.stdout  # the scores model ran, dispatching after the first answer
    forced = project.dbt("run", "--debug", "--select", "fraud_scores", fraud_platform="postgres")
    assert asked not in forced.stdout


@pytest.mark.database
def test_fraud_dispatch_names_the_missing_implementation(project):
    result = project.dbt("compile", "--inline", "{{ fraud_dispatch('fraud_no_such_thing') }}", check=False)
    assert result.returncode != 0
    assert "no macro postgres__fraud_no_such_thing" in result.stdout
    assert "macros/platforms/postgres.sql" in result.stdout


@pytest.mark.database
def test_every_model_runs_without_jit_first_on_postgres_and_with_nothing_on_greenplum(project):
    """fraud_without_jit is every model's first pre-hook. On PostgreSQL a plain SET (no query: a later
    pre-hook may still set the isolation level); on Greenplum nothing (7 ships with jit off, 6 has no
    such setting), nor in a full build of a model with fraud_jit_in_full_builds: dbt runs no empty
    hook."""
    project.dbt("compile", "--select", "fraud_scores")
    nodes = json.loads((ROOT / f"target/test_{project.suffix}/manifest.json").read_text())["nodes"]
    models = [n for n in nodes.values() if n["resource_type"] == "model" and n["package_name"] == "fraud_scoring"]
    assert len(models) > 15
    assert all(n["config"]["pre-hook"][0]["sql"] == "{{ fraud_without_jit() }}" for n in models)
    assert inline(project, "{{ fraud_without_jit() }}").strip() == "set local jit = off"
    assert inline(project, "{{ fraud_without_jit() }}", **GREENPLUM).strip() == ""
    full_build_jit = sorted(n["name"] for n in models if n["config"].get("fraud_jit_in_full_builds"))
    assert full_build_jit == ["fraud_feature_bins", "fraud_score_bins"]
    # a full build of one: the hook renders nothing, so dbt runs none; an incremental run: the SET
    built = project.dbt("run", "--debug", "--select", "fraud_score_bins", "--full-refresh")
    assert "set local jit = off" not in built.stdout
    again = project.dbt("run", "--debug", "--select", "fraud_score_bins")
    assert "set local jit = off" in again.stdout


# ---- the segment probe -----------------------------------------------------------


def probe(python="3.11.2", host="sdw1", cores=None, blas="openblas", package=None, **packages) -> str:
    found = {"numpy": "2.4.6", "h5py": "3.14.0", "keras": "3.15.1", "tensorflow": "2.21.0", **packages}
    row = {"python": python, "host": host, "packages": found}
    if package is not None:
        row["fraud_scoring"] = package
    if cores is not None:
        row["cores"] = cores
        row["blas"] = [] if blas is None else [{"library": blas, "version": "0.3.31", "threads": cores}]
    return json.dumps(row)


def check_segments(project, rows, runtime="numpy", recorded=None):
    args = json.dumps({"probes": rows, "runtime": runtime, "recorded": recorded})
    return project.dbt("run-operation", "check_fraud_segments", "--args", args, check=False)


@pytest.mark.database
def test_the_probe_reports_every_segment_and_passes_when_all_have_the_packages(project):
    result = check_segments(project, [[0, probe(host="sdw1")], [1, probe(host="sdw2")]])
    assert result.returncode == 0, result.stdout[-2000:]
    assert "segment 0 (sdw1): python 3.11.2, h5py 3.14.0, keras 3.15.1, numpy 2.4.6, tensorflow 2.21.0" in result.stdout
    assert "segment 1 (sdw2)" in result.stdout


@pytest.mark.database
@pytest.mark.parametrize(
    "rows, runtime, message",
    [
        ([[0, probe()], [1, probe(h5py=None)]], "numpy", "segment 1: h5py is missing"),
        ([[0, probe(tensorflow=None)]], "numpy", None),  # the numpy runtime needs no TensorFlow
        ([[0, probe(tensorflow=None)]], "keras", "segment 0: tensorflow is missing"),
        ([[0, probe()], [1, "Traceback (most recent call last)"]], "numpy", "segment 1: unreadable probe output"),
        ([[0, probe()], [1, probe(python="3.9.18")]], "numpy", "different Python versions: 3.11, 3.9"),
        ([], "numpy", "the probe returned no rows"),
    ],
)
def test_the_probe_names_the_segment_and_what_it_lacks(project, rows, runtime, message):
    result = check_segments(project, rows, runtime)
    if message is None:
        assert result.returncode == 0, result.stdout[-2000:]
    else:
        assert result.returncode != 0
        assert message in result.stdout


@pytest.mark.database
def test_the_probe_runs_on_this_server(project):
    result = project.dbt("run-operation", "check_fraud_segments")
    assert re.search(r"server \(.*\): python 3\.\d+\.\d+, h5py \S+, keras \S+, numpy \S+", result.stdout)


@pytest.mark.database
def test_the_server_scores_with_the_fraud_scoring_of_this_checkout(project):
    """The package the server imports is installed (site-packages), current (its source hash is the
    checkout's: `make venv` reinstalls on any change), and the one the install recorded."""
    from fraud_scoring import version
    from fraud_scoring.version import describe

    server = json.loads(query(f"select {project.fraud_schema}.scoring_package()")[0][0])
    assert "site-packages" in server["path"]  # the installed copy, not the checkout
    assert server["sha256"] == version.source_hash(), "the server's fraud_scoring is stale: run `make venv`"
    recorded = query(f"select version from {project.fraud_schema}.installation where component = 'fraud_scoring'")
    assert recorded == [(describe(server),)]
    result = project.dbt("run-operation", "check_fraud_segments")
    assert f"fraud_scoring {describe(server)}" in result.stdout


@pytest.mark.database
def test_the_probe_names_a_segment_whose_fraud_scoring_differs_from_the_installed_one(project):
    installed = {"version": "0.2.0", "sha256": "a" * 64}
    other = {"version": "0.2.0", "sha256": "b" * 64}
    recorded = "0.2.0 sha256:" + "a" * 64
    rows = [[0, probe(host="sdw1", package=installed)], [1, probe(host="sdw2", package=other)]]
    result = check_segments(project, rows, recorded=recorded)
    assert result.returncode != 0
    assert "segment 0 (sdw1): python 3.11.2, h5py 3.14.0, keras 3.15.1, numpy 2.4.6, tensorflow 2.21.0; " \
        f"fraud_scoring {recorded}" in result.stdout  # fmt: skip
    assert f"segment 1: fraud_scoring 0.2.0 sha256:{'b' * 64} differs from the one recorded at install" in result.stdout
    assert "segment 0: fraud_scoring" not in result.stdout
    assert "dbt run-operation install_fraud_scoring" in result.stdout
    # a segment whose probe has no fraud_scoring at all is named too; the same everywhere passes
    missing = check_segments(project, [[1, probe()]], recorded=recorded)
    assert "segment 1: fraud_scoring unknown differs" in missing.stdout
    assert check_segments(project, [[0, probe(package=installed)]], recorded=recorded).returncode == 0


@pytest.mark.database
def test_the_probe_reports_cores_blas_and_threads_shared_by_a_hosts_segments(project):
    rows = [[0, probe(host="sdw1", cores=8)], [1, probe(host="sdw1", cores=8)], [2, probe(host="sdw2", cores=8)]]
    result = check_segments(project, rows)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "segment 0 (sdw1): python 3.11.2" in result.stdout
    assert "8 cores, scoring threads 4 (8 cores / 2 segments on this host); BLAS openblas 0.3.31" in result.stdout
    assert "8 cores, scoring threads 8 (8 cores / 1 segment on this host)" in result.stdout


@pytest.mark.database
def test_the_probe_warns_about_a_reference_blas(project):
    result = check_segments(project, [[0, probe(cores=2)], [1, probe(cores=2, blas=None)]])
    assert result.returncode == 0  # slow, not broken: a warning
    assert "WARNING: segment 1: numpy uses no optimized BLAS" in result.stdout
    assert "WARNING: segment 0" not in result.stdout
