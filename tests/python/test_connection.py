"""The Python tools connect where dbt does: the profile and target dbt's own code selects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.connection import ConnectionSettingsError, connection_settings, describe, profiles_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "profiles.yml.example"


def test_the_default_target_is_the_embedded_cluster_with_its_defaults():
    assert connection_settings({}, EXAMPLE) == {
        "host": "127.0.0.1",
        "port": 55432,
        "user": "postgres",
        "password": "",
        "dbname": "fraud",
    }


def test_the_greenplum_target_reads_the_greenplum_settings_not_the_postgres_ones():
    env = {
        "FRAUD_DBT_TARGET": "greenplum",
        "FRAUD_GP_HOST": "mdw",
        "FRAUD_GP_PORT": "7000",
        "FRAUD_GP_DATABASE": "scoring",
        "FRAUD_PG_PORT": "9999",  # another target's setting: ignored
    }
    settings = connection_settings(env, EXAMPLE)
    assert (settings["host"], settings["port"], settings["user"], settings["dbname"]) == (
        "mdw",
        7000,
        "gpadmin",
        "scoring",
    )


def test_an_unknown_target_is_refused_naming_the_targets_there_are():
    with pytest.raises(ConnectionSettingsError, match="does not have a target named 'prod'.*- embedded - greenplum"):
        connection_settings({"FRAUD_DBT_TARGET": "prod"}, EXAMPLE)


def test_a_required_variable_without_default_is_named(tmp_path):
    profile = tmp_path / "profiles.yml"
    profile.write_text(
        "fraud_scoring:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
        "      host: \"{{ env_var('MY_HOST') }}\"\n      port: 5432\n      user: u\n      dbname: d\n"
        "      schema: s\n      password: ''\n"
    )
    with pytest.raises(ConnectionSettingsError, match="Env var required but not provided: 'MY_HOST'"):
        connection_settings({}, profile)
    assert connection_settings({"MY_HOST": "db1"}, profile)["host"] == "db1"


def test_dbt_profiles_dir_is_read_first(tmp_path, monkeypatch):
    (tmp_path / "profiles.yml").write_text(EXAMPLE.read_text())
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    assert profiles_file() == tmp_path / "profiles.yml"
    monkeypatch.setenv("FRAUD_DBT_TARGET", "greenplum")
    monkeypatch.setenv("FRAUD_GP_HOST", "mdw")
    assert describe() == "dbt target greenplum: gpadmin@mdw:5432/fraud"


def test_scripts_db_sh_reads_the_embedded_targets_settings_whatever_target_dbt_uses():
    from warehouse.connection import shell_settings

    env = {"FRAUD_DBT_TARGET": "greenplum", "FRAUD_PG_PORT": "55999"}
    assert shell_settings(env, EXAMPLE, "embedded").splitlines() == [
        "FRAUD_DB_HOST=127.0.0.1",
        "FRAUD_DB_PORT=55999",
        "FRAUD_DB_USER=postgres",
        "FRAUD_DB_NAME=fraud",
    ]


def test_a_target_without_host_port_user_or_database_is_refused_naming_them(tmp_path):
    profile = tmp_path / "profiles.yml"
    profile.write_text("fraud_scoring:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: h\n")
    with pytest.raises(ConnectionSettingsError, match="'database' is a required property"):
        connection_settings({}, profile)


def test_dbt_target_selects_the_target_and_the_tools_option_overrides_it():
    env = {"DBT_TARGET": "greenplum", "FRAUD_GP_HOST": "mdw"}
    assert connection_settings(env, EXAMPLE)["host"] == "mdw"
    assert connection_settings(env, EXAMPLE, "embedded")["host"] == "127.0.0.1"


def test_where_dbt_finds_no_profile_the_example_is_read_and_that_is_said(tmp_path):
    env = {"DBT_PROFILES_DIR": str(tmp_path)}  # an empty directory: dbt would find no profile there
    assert connection_settings(env)["port"] == 55432
    assert describe(env).endswith(f"(from profiles.yml.example: dbt finds no profile in {tmp_path}/profiles.yml)")


@pytest.mark.database
def test_a_profile_only_in_home_dbt_is_where_dbt_and_the_tools_both_connect(tmp_path):
    """No DBT_PROFILES_DIR and no profiles.yml in the current directory: dbt reads
    ~/.dbt/profiles.yml, and so must `python -m warehouse`. That profile's target, named
    `from_home`, connects to the cluster's `postgres` database (the project's is `fraud`)."""
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".dbt").mkdir(parents=True)
    work.mkdir()
    port = os.environ.get("FRAUD_PG_PORT", "55432")
    (home / ".dbt" / "profiles.yml").write_text(
        "fraud_scoring:\n  target: from_home\n  outputs:\n    from_home:\n      type: postgres\n"
        f"      host: 127.0.0.1\n      port: {port}\n      user: postgres\n      password: ''\n"
        "      dbname: postgres\n      schema: from_home\n      threads: 1\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DBT_PROFILES_DIR", "DBT_TARGET", "FRAUD_DBT_TARGET")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), DBT_PROJECT_DIR=str(ROOT), DBT_USE_COLORS="false")
    env.update(DBT_LOG_PATH=str(tmp_path / "logs"), DBT_TARGET_PATH=str(tmp_path / "target"))

    def run(*args):
        return subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=300)

    dbt = run(str(ROOT / ".venv" / "bin" / "dbt"), "debug")
    assert "All checks passed" in dbt.stdout, dbt.stdout[-3000:]
    assert f"Using profiles.yml file at {home}/.dbt/profiles.yml" in dbt.stdout
    assert "database: postgres" in dbt.stdout and f"port: {port}" in dbt.stdout
    tool = run(sys.executable, "-m", "warehouse.connection")
    assert tool.stdout.strip() == f"dbt target from_home: postgres@127.0.0.1:{port}/postgres", tool.stderr
    query = "from warehouse.connection import connection\nwith connection() as c, c.cursor() as cur:\n"
    query += "    cur.execute('select current_database()'); print(cur.fetchone()[0])"
    assert run(sys.executable, "-c", query).stdout.strip() == "postgres"
