"""Connections to the project's database: the same settings dbt uses.

The Python tools (load, register, the demo, the benchmark, the tests) read the
dbt profile itself, so one setting serves both: the `fraud_scoring` profile in
profiles.yml (found where dbt looks: DBT_PROFILES_DIR, else the project
directory; profiles.yml.example when there is none yet), its target chosen the
way dbt chooses it (FRAUD_DBT_TARGET in the example), its `env_var(...)` values
rendered from the environment. An operator who sets FRAUD_DBT_TARGET=greenplum
and FRAUD_GP_* loads into the cluster dbt will score, never into another database.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "fraud_scoring"


class ConnectionSettingsError(ValueError):
    """The dbt profile cannot give the Python tools a connection."""


def profiles_file() -> Path:
    """The profiles.yml dbt would read for this project (or the example it is copied from)."""
    configured = os.environ.get("DBT_PROFILES_DIR")
    candidates = [Path(configured) / "profiles.yml"] if configured else []
    candidates += [ROOT / "profiles.yml", ROOT / "profiles.yml.example"]
    for path in candidates:
        if path.is_file():
            return path
    raise ConnectionSettingsError(f"no dbt profile found (looked for {', '.join(map(str, candidates))})")


def _render(value, env: dict):
    """A profile value as dbt renders it: Jinja with env_var() and the as_number filter."""
    if not isinstance(value, str) or "{{" not in value:
        return value
    import jinja2

    def env_var(name, default=None):
        if name in env:
            return env[name]
        if default is None:
            raise ConnectionSettingsError(f"the dbt profile needs environment variable {name}, which is not set")
        return default

    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined)
    jinja.filters["as_number"] = lambda text: int(text) if str(text).strip().lstrip("-").isdigit() else float(text)
    jinja.filters["as_text"] = str
    return jinja.from_string(value).render(env_var=env_var).strip()


def target_settings(env: dict | None = None, path: Path | None = None) -> tuple[str, dict]:
    """(target name, that target's rendered outputs entry) of the fraud_scoring profile."""
    import yaml

    env = dict(os.environ) if env is None else env
    path = path or profiles_file()
    profile = (yaml.safe_load(path.read_text()) or {}).get(PROFILE)
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        raise ConnectionSettingsError(f"{path}: no profile {PROFILE!r} with outputs")
    target = str(_render(profile.get("target", "default"), env))
    outputs = profile["outputs"]
    if target not in outputs:
        known = ", ".join(outputs)
        raise ConnectionSettingsError(f"{path}: profile {PROFILE!r} has no target {target!r} (it has {known})")
    return target, {key: _render(value, env) for key, value in outputs[target].items()}


def connection_settings(env: dict | None = None, path: Path | None = None) -> dict:
    """psycopg2 keyword arguments for the selected dbt target."""
    return _psycopg2_settings(target_settings(env, path)[1])


def _psycopg2_settings(output: dict) -> dict:
    """psycopg2 keyword arguments from a rendered outputs entry of the profile."""
    if output.get("type") != "postgres":
        kind = output.get("type")
        raise ConnectionSettingsError(f"dbt target type {kind!r}: only postgres-type targets are supported")
    return {
        "host": str(output.get("host", "127.0.0.1")),
        "port": int(output.get("port", 5432)),
        "user": str(output.get("user", "postgres")),
        "password": str(output.get("password") or ""),
        "dbname": str(output.get("dbname") or output.get("database") or ""),
    }


def describe(env: dict | None = None) -> str:
    """Where the tools connect, for their messages: 'dbt target greenplum: gpadmin@mdw:7000/fraud'."""
    target, output = target_settings(env)
    s = _psycopg2_settings(output)
    return f"dbt target {target}: {s['user']}@{s['host']}:{s['port']}/{s['dbname']}"


def connect(env: dict | None = None, **overrides):
    """A psycopg2 connection to the selected dbt target (env: the environment to read it from)."""
    import psycopg2

    settings = {**connection_settings(env), **overrides}
    if not settings["password"]:
        settings.pop("password")
    return psycopg2.connect(**settings)


@contextlib.contextmanager
def connection(env: dict | None = None, **overrides):
    """A connection that is closed afterwards (psycopg2's own `with` only ends a transaction)."""
    conn = connect(env, **overrides)
    try:
        yield conn
    finally:
        conn.close()
