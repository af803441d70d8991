"""The Python tools connect where dbt does: the fraud_scoring profile's selected target."""

from __future__ import annotations

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
    with pytest.raises(ConnectionSettingsError, match="no target 'prod' \\(it has embedded, greenplum\\)"):
        connection_settings({"FRAUD_DBT_TARGET": "prod"}, EXAMPLE)


def test_a_required_variable_without_default_is_named(tmp_path):
    profile = tmp_path / "profiles.yml"
    profile.write_text(
        "fraud_scoring:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
        "      host: \"{{ env_var('MY_HOST') }}\"\n      port: 5432\n      user: u\n      dbname: d\n"
    )
    with pytest.raises(ConnectionSettingsError, match="needs environment variable MY_HOST"):
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
    with pytest.raises(ConnectionSettingsError, match="gives no port, user, dbname"):
        connection_settings({}, profile)
