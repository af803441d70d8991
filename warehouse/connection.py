"""Connections to the project's database: the same settings dbt uses, their one source.

The Python tools (load, register, the demo, the benchmark, the tests) read the
dbt profile itself, so one setting serves both: the `fraud_scoring` profile in
profiles.yml (found where dbt looks: DBT_PROFILES_DIR, else the project
directory; profiles.yml.example when there is none yet), its target chosen the
way dbt chooses it (FRAUD_DBT_TARGET in the example), its `env_var(...)` values
rendered from the environment. An operator who sets FRAUD_DBT_TARGET=greenplum
and FRAUD_GP_* loads into the cluster dbt will score, never into another database.
scripts/db.sh, which runs the project's own cluster, reads its host, port, user and
database here too (`python -m warehouse.connection --shell --target embedded`), so
profiles.yml.example is the only file that states their defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
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


def target_settings(env: dict | None = None, path: Path | None = None, target: str | None = None) -> tuple[str, dict]:
    """(target name, that target's rendered outputs entry) of the fraud_scoring profile:
    the target dbt would choose, or the one named."""
    import yaml

    env = dict(os.environ) if env is None else env
    path = path or profiles_file()
    profile = (yaml.safe_load(path.read_text()) or {}).get(PROFILE)
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        raise ConnectionSettingsError(f"{path}: no profile {PROFILE!r} with outputs")
    target = target or str(_render(profile.get("target", "default"), env))
    outputs = profile["outputs"]
    if target not in outputs:
        known = ", ".join(outputs)
        raise ConnectionSettingsError(f"{path}: profile {PROFILE!r} has no target {target!r} (it has {known})")
    return target, {key: _render(value, env) for key, value in outputs[target].items()}


def connection_settings(env: dict | None = None, path: Path | None = None, target: str | None = None) -> dict:
    """psycopg2 keyword arguments for the selected dbt target (or the one named)."""
    return _psycopg2_settings(target_settings(env, path, target)[1])


def _psycopg2_settings(output: dict) -> dict:
    """psycopg2 keyword arguments from a rendered outputs entry of the profile. Host, port,
    user and database are required, as dbt-postgres requires them: no default is restated here."""
    if output.get("type") != "postgres":
        kind = output.get("type")
        raise ConnectionSettingsError(f"dbt target type {kind!r}: only postgres-type targets are supported")
    output = {**output, "dbname": output.get("dbname") or output.get("database")}
    missing = [key for key in ("host", "port", "user", "dbname") if output.get(key) in (None, "")]
    if missing:
        raise ConnectionSettingsError(f"the dbt target gives no {', '.join(missing)}")
    return {
        "host": str(output["host"]),
        "port": int(output["port"]),
        "user": str(output["user"]),
        "password": str(output.get("password") or ""),
        "dbname": str(output["dbname"]),
    }


SHELL_NAMES = {"host": "FRAUD_DB_HOST", "port": "FRAUD_DB_PORT", "user": "FRAUD_DB_USER", "dbname": "FRAUD_DB_NAME"}


def shell_settings(env: dict | None = None, path: Path | None = None, target: str | None = None) -> str:
    """The target's host, port, user and database as shell assignments, for scripts/db.sh
    (the password stays out: the project's own cluster trusts loopback connections)."""
    settings = connection_settings(env, path, target)
    return "\n".join(f"{name}={shlex.quote(str(settings[key]))}" for key, name in SHELL_NAMES.items())


def describe(env: dict | None = None, target: str | None = None) -> str:
    """Where the tools connect, for their messages: 'dbt target greenplum: gpadmin@mdw:7000/fraud'."""
    target, output = target_settings(env, target=target)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse.connection", description="Where the Python tools connect (the dbt profile)."
    )
    parser.add_argument("--target", help="a target of the profile (default: the one dbt would choose)")
    parser.add_argument(
        "--shell", action="store_true", help="print " + ", ".join(SHELL_NAMES.values()) + " as shell assignments"
    )
    args = parser.parse_args(argv)
    try:
        if args.shell:
            print(shell_settings(target=args.target))
        else:
            print(describe(target=args.target))
    except ConnectionSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
