"""dbt Python models inside the database: built, typed, incremental, atomic, published, refused.

The tests run in order on one set of schemas of their own (test_*_py<pid>) and a copy of
the project (so that they can add models and change a model's code without touching the
checkout); each says what it leaves behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import psycopg2
import pytest
from dbtdb import ROOT, create_analyst, drop_project, query, setup_project

from fraud_scoring.contract import project_contract
from warehouse.connection import connect

pytestmark = pytest.mark.database
FEATURES = project_contract().columns

# A typed SQL table, read by a Python model (full read and chunked read) and written back.
TYPES_SOURCE = """{{ config(materialized='table') }}
select * from (values
    (1::bigint, 7::integer, 2::smallint, 0.1::float8, 1.5::real, true, 'a "quoted" \\ text, {braced}'::text,
     12.345::numeric(10, 3), timestamptz '2024-03-01 12:34:56.789012+00', date '2024-02-29',
     timestamp '2024-03-01 01:02:03.000004'),
    (2, null, null, null, null, null, null, null, null, null, null),
    (3, -2147483648, -32768, -1e300, 3.4e38, false, 'é ünïcode', -0.001, timestamptz '1970-01-01 00:00:00+00',
     date '1999-12-31', timestamp '2000-01-01 00:00:00')
) as t (i8, i4, i2, f8, f4, b, t, n, tstz, d, ts)
"""
TYPES_MODEL = """import pandas as pd


def model(dbt, session):
    whole = dbt.ref("py_types_source")
    chunked = pd.concat(list(dbt.ref("py_types_source", chunksize=2)), ignore_index=True)
    pd.testing.assert_frame_equal(whole, chunked)
    return whole
"""
# One model whose behaviour a control table chooses, so its published code never changes.
CONTROLLED_MODEL = """import pandas as pd


def model(dbt, session):
    mode = session.sql(f"select mode from {dbt.this.schema}.pytest_control")["mode"].iloc[0]
    frame = pd.DataFrame({"k": [1, 2], "v": [0.5, 0.25]})
    if mode == "raise":
        return {}["no such key"]  # line 8 of the file
    if mode == "not_a_frame":
        return [1, 2]
    if mode == "extra_column":
        return frame.assign(surprise=1)
    if mode == "fraction":
        return frame.assign(k=[1.5, 2.0])
    if mode == "text_in_number":
        return frame.assign(v=["x", "y"])
    return frame
"""
CONTROLLED_YAML = """version: 2
models:
  - name: py_controlled
    config:
      grants:
        select: ["{analyst}"]
      meta:
        python_contract:
          enforced: true
    columns:
      - name: k
        data_type: integer
      - name: v
        data_type: double precision
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"py{os.getpid()}", rows=2000, seed=31)
    copy = tmp_path_factory.mktemp("project")
    for name in ("dbt_project.yml", "macros", "models", "seeds", "tests"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, copy / name)
    shutil.rmtree(copy / "tests" / "python")
    extra = copy / "models" / "pytest"
    extra.mkdir()
    (extra / "py_types_source.sql").write_text(TYPES_SOURCE)
    (extra / "py_types.py").write_text(TYPES_MODEL)
    (extra / "py_controlled.py").write_text(CONTROLLED_MODEL)
    (extra / "_pytest.yml").write_text(CONTROLLED_YAML.format(analyst=p.analyst))
    p.copy = copy
    a = create_analyst(p)
    p.dbt("run-operation", "install_fraud_scoring", fraud_scoring_roles=[a])
    yield p
    drop_project(p, p.schema + "_analyst")
    query(f"drop role if exists {a}")


def dbt(p, *args, check=True, **options):
    return p.dbt(*args, "--project-dir", str(p.copy), check=check, **options)


def control(p, mode, schema=None):
    s = schema or p.schema
    query(f"create schema if not exists {s}")
    query(f"create table if not exists {s}.pytest_control (mode text)")
    query(f"delete from {s}.pytest_control; insert into {s}.pytest_control values (%s)", (mode,))


def output(result):
    return result.stdout + result.stderr


def test_dbt_build_runs_python_models_between_sql_models(project):
    """SQL -> Python (fraud_scores, staging) and Python -> SQL (fraud_daily_monitoring), in one build, tested."""
    control(project, "ok")
    result = dbt(project, "build")
    assert "ERROR=0" in result.stdout, output(result)[-3000:]
    lines = result.stdout.splitlines()
    order = [next(i for i, line in enumerate(lines) if f"OK created {kind} model {project.schema}.{name}" in line)
             for kind, name in [("sql incremental", "fraud_scores"), ("python table", "fraud_score_distribution"),
                                ("sql view", "fraud_daily_monitoring")]]  # fmt: skip
    assert order == sorted(order)
    assert query(f"select count(*) from {project.schema}.fraud_daily_monitoring")[0][0] >= 1
    # dbt test ran on the Python models' outputs (their YAML tests) and passed
    assert "not_null_fraud_score_distribution_model_version" in result.stdout


def view_oid(p, name):
    return query(f"select to_regclass('{p.schema}.{name}')::oid")[0][0]


def test_a_python_table_rebuilt_alone_keeps_the_views_built_on_it(project):
    """dbt's table materialization renames the old table away and drops it with CASCADE, taking
    fraud_daily_monitoring with it; a run that does not reach the view (here: not selected) left it
    gone. A rebuild with the same columns refills the table in place: the view is the same object,
    and the table holds what a build from scratch gives."""
    before = view_oid(project, "fraud_daily_monitoring")
    assert before is not None
    query(f"delete from {project.schema}.fraud_score_distribution where transaction_day = 0")
    result = dbt(project, "run", "--select", "fraud_score_distribution")
    assert "ERROR=0" in result.stdout, output(result)[-3000:]
    assert view_oid(project, "fraud_daily_monitoring") == before
    rows = f"select * from {project.schema}.fraud_score_distribution order by model_version, transaction_day"
    refilled = query(rows)
    assert any(r[1] == 0 for r in refilled)  # the deleted day is back
    query(f"drop table {project.schema}.fraud_score_distribution cascade")
    result = dbt(project, "run", "--select", "fraud_score_distribution+")
    assert "ERROR=0" in result.stdout, output(result)[-3000:]
    assert query(rows) == refilled


def test_pr_auc_from_the_bins_is_within_its_bound_of_the_exact_sql_figure(project):
    """fraud_model_metrics.pr_auc sorts every score (exact); the Python model reads fine bins, counting a
    bin's rows as tied, and bounds its error from the bins: the exact figure must lie within it."""
    rows = query(
        f"select p.pr_auc, m.pr_auc, p.pr_auc_error_bound, p.labeled_rows, m.labeled_rows "
        f"from {project.schema}.fraud_pr_auc_daily p "
        f"join {project.schema}.fraud_model_metrics m using (model_version, transaction_day)"
    )
    assert rows and all(n == m for *_, n, m in rows)
    assert all(abs(a - b) <= bound + 1e-12 for a, b, bound, _, _ in rows), rows
    assert all(bound < 0.05 for _, _, bound, _, _ in rows), rows  # a bound that says something
    total = query(f"select sum(scored_rows) from {project.schema}.fraud_score_distribution")[0][0]
    assert total == query(f"select count(*) from {project.schema}.fraud_scores")[0][0]


def test_quantiles_from_the_bins_are_within_one_fine_bin_of_percentile_cont(project):
    s = project.schema
    rows = query(
        f"""select d.p50_probability, d.p90_probability, d.p99_probability, e.p50, e.p90, e.p99,
                   d.mean_probability, e.mean
        from {s}.fraud_score_distribution d
        join (
            select s.model_version, floor(r.time / 86400)::int as transaction_day,
                percentile_cont(0.5) within group (order by s.fraud_probability) as p50,
                percentile_cont(0.9) within group (order by s.fraud_probability) as p90,
                percentile_cont(0.99) within group (order by s.fraud_probability) as p99,
                avg(s.fraud_probability) as mean
            from {s}.fraud_scores s join {project.raw_schema}.credit_card r using (transaction_id)
            group by 1, 2
        ) e using (model_version, transaction_day)"""
    )
    assert rows
    for *binned, p50, p90, p99, mean, exact_mean in rows:
        for got, want in zip(binned[:3], (p50, p90, p99), strict=True):
            assert abs(got - want) <= min(want, 1 - want) / 1024 + 1e-15, (got, want)
        assert abs(mean - exact_mean) <= 1e-12 * exact_mean


def test_types_round_trip_exactly_and_are_inferred(project):
    """Every value of every type comes back equal (NULLs included), through the full and the chunked
    reader, and the inferred output types are the source's (numeric without its typmod, date as timestamp)."""
    s = project.schema
    diff = query(f"select count(*) from ((select * from {s}.py_types_source except all select * from {s}.py_types) "
                 f"union all (select * from {s}.py_types except all select * from {s}.py_types_source)) d")  # fmt: skip
    assert diff == [(0,)]
    types = {
        table: query(
            "select column_name, data_type from information_schema.columns where table_schema = %s "
            "and table_name = %s order by ordinal_position",
            (s, table),
        )
        for table in ("py_types_source", "py_types")
    }
    assert [t for _, t in types["py_types_source"]] == [
        "bigint", "integer", "integer", "double precision", "real", "boolean", "text", "numeric",
        "timestamp with time zone", "date", "timestamp without time zone",
    ]  # fmt: skip
    # a date reads as datetime64[s] and, without a contract saying date, is written as a timestamp
    expected = [(c, "timestamp without time zone" if t == "date" else t) for c, t in types["py_types_source"]]
    assert types["py_types"] == expected


def test_the_catalog_documents_the_python_models(project):
    dbt(project, "docs", "generate")
    catalog = json.loads((project.copy / f"target/test_{project.suffix}/catalog.json").read_text())
    node = catalog["nodes"]["model.fraud_scoring.fraud_score_distribution"]
    assert node["columns"]["p99_probability"]["type"] == "double precision"


def test_incremental_writes_only_changed_groups_and_full_refresh_rebuilds(project):
    s, raw = project.schema, f"{project.raw_schema}.credit_card"
    before = dict(query(f"select transaction_day, scores_as_of from {s}.fraud_pr_auc_daily"))
    result = dbt(project, "run", "--select", "fraud_pr_auc_daily")
    assert "python incremental model" in result.stdout
    assert dict(query(f"select transaction_day, scores_as_of from {s}.fraud_pr_auc_daily")) == before
    # transactions on a day of their own: its group is new, the others keep their rows
    query(f"insert into {raw} select transaction_id + 1000000, time + 10 * 86400, {', '.join(FEATURES)}, amount, class "
          f"from {raw} where transaction_id <= 300")  # fmt: skip
    dbt(project, "run")
    after = dict(query(f"select transaction_day, scores_as_of from {s}.fraud_pr_auc_daily"))
    new_day = max(after)
    assert new_day not in before and all(after[d] == before[d] for d in before)
    # their scores gone: the group is written once more, with no labeled rows
    query(f"delete from {raw} where transaction_id > 1000000")
    dbt(project, "run")
    assert query(f"select labeled_rows, pr_auc from {s}.fraud_pr_auc_daily where transaction_day = %s", [new_day]) == [
        (0, None)
    ]
    dbt(project, "run", "--select", "fraud_pr_auc_daily", "--full-refresh")
    assert len(query(f"select 1 from {s}.fraud_pr_auc_daily")) == len(before)


def _unchanged(p):
    return query(f"select k, v from {p.schema}.py_controlled order by k")


@pytest.mark.parametrize(
    "mode, message",
    [
        ("raise", 'File "models/pytest/py_controlled.py", line 8, in model'),
        ("not_a_frame", "returned builtins.list, not a pandas DataFrame"),
        ("extra_column", "column surprise of the DataFrame model() returned is not in the contract"),
        ("fraction", "column k: the value 1.5 does not fit integer (not a whole number)"),
        ("text_in_number", "column v: str values does not fit double precision"),
    ],
)
def test_a_failing_model_says_why_and_leaves_the_previous_table(project, mode, message):
    control(project, "ok")
    dbt(project, "run", "--select", "py_controlled")
    before = _unchanged(project)
    assert before == [(1, 0.5), (2, 0.25)]
    control(project, mode)
    result = dbt(project, "run", "--select", "py_controlled", check=False)
    assert result.returncode == 1
    assert message in output(result), output(result)[-3000:]
    if mode == "raise":
        assert "KeyError: 'no such key'" in output(result)
        assert 'return {}["no such key"]  # line 8 of the file' in output(result)  # the source line itself
    assert _unchanged(project) == before


def test_grants_apply_to_the_python_models_table(project):
    granted = query(
        "select has_table_privilege(%s, %s, 'select')", (project.analyst, f"{project.schema}.py_controlled")
    )
    assert granted == [(True,)]


def test_two_runs_at_once_both_succeed(project):
    """Runs of the same models serialize on a lock instead of colliding on the intermediate relation."""
    control(project, "ok")
    runs = [project.start("run", "--project-dir", str(project.copy), "--select", "py_controlled", "fraud_pr_auc_daily")
            for _ in range(2)]  # fmt: skip
    outs = [r.communicate(timeout=600)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outs
    assert _unchanged(project) == [(1, 0.5), (2, 0.25)]
    dup = query(
        f"select count(*) - count(distinct (model_version, transaction_day)) from {project.schema}.fraud_pr_auc_daily"
    )
    assert dup == [(0,)]


def test_a_server_python_without_pandas_names_the_fix(project):
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("do language plpython3u $$\nimport sys\nsys.modules['pandas'] = None\n$$")
            with pytest.raises(psycopg2.Error) as refused:
                cur.execute(f"select {project.fraud_schema}.run_python_model('{{}}', '')")
            message = str(refused.value)
            # the fix for a missing pandas and for a venv built for another Python, both named
            assert re.search(r"need pandas in the database server's Python \(3\.\d+", message), message
            assert "make venv" in message and "make clean-venv venv PYTHON=python3." in message
    finally:
        conn.close()


# ---- who may run Python models ---------------------------------------------------------


def test_a_missing_runner_names_the_install(project):
    """An installation from before Python models (the runner dropped here): the role's run says who must
    install, instead of 'function does not exist'."""
    a, f = project.analyst, project.fraud_schema
    query(f"drop function {f}.run_python_model(text, text)")
    try:
        result = dbt(project, "run", "--select", "py_controlled", check=False, user=a, schema_suffix="_analyst")
        assert result.returncode == 1
        assert f"Python models run through {f}.run_python_model, which is not installed" in output(result)
        assert "dbt run-operation install_fraud_scoring" in output(result)
    finally:
        dbt(project, "run-operation", "install_fraud_scoring", fraud_scoring_roles=[a])


def test_the_least_privileged_role_runs_published_code(project):
    a, s = project.analyst, project.schema + "_analyst"
    control(project, "ok", schema=s)
    query(f"alter table {s}.pytest_control owner to {a}")
    result = dbt(project, "run", user=a, schema_suffix="_analyst")
    assert "ERROR=0" in result.stdout, output(result)[-3000:]
    assert query(f"select count(*) from {s}.fraud_score_distribution")[0][0] >= 1
    owner = query("select tableowner from pg_tables where schemaname = %s and tablename = 'py_controlled'", (s,))
    assert owner == [(a,)]


def test_code_changed_since_publishing_is_refused_for_the_role(project):
    a, s = project.analyst, project.schema + "_analyst"
    path = project.copy / "models" / "monitoring" / "fraud_score_distribution.py"
    original = path.read_text()
    before = query(f"select count(*), sum(scored_rows) from {s}.fraud_score_distribution")
    path.write_text(original + "\nimport os  # not reviewed\nos.system('touch /tmp/pwned')\n")
    try:
        result = dbt(
            project, "run", "--select", "fraud_score_distribution", check=False, user=a, schema_suffix="_analyst"
        )
        assert result.returncode == 1
        assert "differs from its published code" in output(result)
        assert "dbt run-operation publish_python_models" in output(result)
        assert query(f"select count(*), sum(scored_rows) from {s}.fraud_score_distribution") == before
        # publishing is a superuser's act: the role cannot
        result = dbt(project, "run-operation", "publish_python_models", check=False, user=a, schema_suffix="_analyst")
        assert result.returncode == 1 and "permission denied" in output(result)
    finally:
        path.write_text(original)


@pytest.mark.parametrize(
    "sql, message",
    [
        ("insert into {f}.python_models values ('x', 'p', 'import os', repeat('0', 64))", "permission denied"),
        ("update {f}.python_models set code = 'import os'", "permission denied"),
        ("select {f}.publish_python_model('model.fraud_scoring.fraud_score_distribution', 'p', 'import os')",
         "permission denied"),
        ("do language plpython3u $$ import os $$", "permission denied"),
        ("create function {s}.f() returns int language plpython3u as $$ return 1 $$", "permission denied"),
        ("select {f}.run_python_model('{{\"unique_id\": \"model.x.unpublished\"}}', 'import os')", "is not published"),
    ],
)  # fmt: skip
def test_the_role_cannot_publish_or_run_its_own_python(project, sql, message):
    a = project.analyst
    with pytest.raises(psycopg2.Error, match=message):
        query(sql.format(f=project.fraud_schema, s=project.schema + "_analyst"), user=a)


def test_published_code_reads_with_the_callers_privileges(project):
    """run_python_model is SECURITY INVOKER: a context pointing a ref at a table the role may not
    read (in a schema it may use) is refused by the database, whatever the published code does."""
    a, f = project.analyst, project.fraud_schema
    query(f"create table if not exists {f}.secret (model_version text, transaction_day integer, "
          "probability_bin integer, tenth smallint, scored_rows bigint, sum_probability float8)")  # fmt: skip
    unique_id = "model.fraud_scoring.fraud_score_distribution"
    code = (ROOT / "models" / "monitoring" / "fraud_score_distribution.py").read_text().strip()  # as dbt reads it
    context = {
        "unique_id": unique_id, "is_incremental": False, "config": {}, "sources": {},
        "this": {"schema": project.schema + "_analyst", "identifier": "x"},
        "refs": {"fraud_score_bins": {"schema": f, "identifier": "secret"}},
        "target": {"schema": project.schema + "_analyst", "identifier": "stolen"}, "create": True,
    }  # fmt: skip
    with pytest.raises(psycopg2.Error, match="permission denied for table secret"):
        query(f"select {f}.run_python_model(%s, %s)", (json.dumps(context), code), user=a)


def test_a_read_over_the_row_cap_names_the_cap_and_the_ways_out(project):
    path = project.copy / "models" / "pytest" / "_cap.yml"
    path.write_text(
        "version: 2\nmodels:\n  - name: py_types\n    config:\n      meta:\n        python_max_input_rows: 2\n"
    )
    try:
        result = dbt(project, "run", "--select", "py_types", check=False)
    finally:
        path.unlink()
    assert result.returncode == 1
    assert "has more than 2 rows, the most dbt.ref()/dbt.source() reads at once" in output(result)
    assert "chunksize=N" in output(result)


SKIPPED = "its code is not run"
PY = ("fraud_score_distribution", "fraud_pr_auc_daily")


def _skipped(result):
    return {name for name in PY if re.search(rf'"{name}": [^\n]*{SKIPPED}', result.stdout)}


def _python_tables(p):
    s = p.schema
    return (
        query(f"select * from {s}.fraud_score_distribution order by model_version, transaction_day"),
        query(f"select * from {s}.fraud_pr_auc_daily where labeled_rows > 0 order by model_version, transaction_day"),
    )


@pytest.mark.parametrize("seed", [5, 17])
def test_a_python_model_skips_only_when_a_run_would_change_nothing(project, seed):
    """Invariant: after every step of a seeded sequence (appends, deletes, a tampered output, a
    changed code file, runs with nothing new), the Python models' tables equal a rebuild from
    scratch; and a run after a run with nothing in between skips their code."""
    import random

    rng = random.Random(seed)
    s, raw = project.schema, f"{project.raw_schema}.credit_card"
    select = ("--select", "+fraud_score_distribution", "+fraud_pr_auc_daily")
    code = project.copy / "models" / "monitoring" / "fraud_score_distribution.py"
    original = code.read_text()
    try:
        dbt(project, "run", *select)
        for step in range(5):
            op = rng.choice(["append", "delete", "tamper", "code", "nothing"])
            if op == "append":
                base, days, n = 2_000_000 + 1000 * step + seed, rng.randint(1, 3), rng.randint(5, 50)
                query(f"insert into {raw} select transaction_id + {base}, time + {days} * 86400, "
                      f"{', '.join(FEATURES)}, amount, class from {raw} where transaction_id <= {n}")  # fmt: skip
            elif op == "delete":
                query(f"delete from {raw} where transaction_id in (select transaction_id from {raw} "
                      f"order by transaction_id desc limit {rng.randint(1, 20)})")  # fmt: skip
            elif op == "tamper":
                query(f"delete from {s}.fraud_score_distribution where transaction_day = "
                      f"(select min(transaction_day) from {s}.fraud_score_distribution)")  # fmt: skip
            elif op == "code":
                code.write_text(original + f"\n# step {step}\n")
            result = dbt(project, "run", *select)
            # what changed is what runs: the scores' bins for both, the table or the code for one
            runs = {"append": set(PY), "delete": set(PY), "tamper": {PY[0]}, "code": {PY[0]}, "nothing": set()}[op]
            assert _skipped(result) == set(PY) - runs, f"seed {seed} step {step} {op}: {result.stdout}"
            again = dbt(project, "run", *select)
            assert _skipped(again) == set(PY), f"seed {seed} step {step} {op}: {again.stdout}"
            held = _python_tables(project)
            dbt(project, "run", "--select", "fraud_score_distribution", "fraud_pr_auc_daily", "--full-refresh")
            assert _python_tables(project) == held, f"seed {seed} step {step} {op}"
    finally:
        code.write_text(original)


def test_the_skip_mark_is_the_tables_own_and_a_role_that_does_not_own_it_builds(project):
    """The fingerprint lives in the table's comment, which only its owner writes; a view in the
    path is followed to its tables (fraud_score_bins is read, fraud.installation counted)."""
    s = project.schema
    dbt(project, "run", "--select", "fraud_score_distribution")
    comment = query(f"select obj_description('{s}.fraud_score_distribution'::regclass, 'pg_class')")[0][0]
    assert re.fullmatch(r"fraud-python-inputs: [0-9a-f]{32} [0-9a-f]{32}", comment), comment
    # a reinstall (a new installation row) is a changed input: the next run builds
    project.dbt("run-operation", "install_fraud_scoring", fraud_scoring_roles=[project.analyst])
    assert SKIPPED not in dbt(project, "run", "--select", "fraud_score_distribution").stdout
    assert SKIPPED in dbt(project, "run", "--select", "fraud_score_distribution").stdout
