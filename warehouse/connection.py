"""Connections to the project's database: the same settings dbt uses, found by dbt's own code.

The Python tools (load, register, the demo, the benchmark, the tests) and scripts/db.sh
(`python -m warehouse.connection --shell --target embedded`) read the dbt profile with
dbt-core's functions, so they connect where `dbt run` does, never to another database:

* the profiles directory: DBT_PROFILES_DIR, else dbt's default_profiles_dir() (the
  current directory if it holds profiles.yml, else ~/.dbt), read with read_profile();
* the profile: DBT_PROFILE, else dbt_project.yml's `profile` (Profile.pick_profile_name,
  the name rendered with dbt's ProfileRenderer, as dbt's load_profile does);
* the target: --target (the tools' own option), else DBT_TARGET, else the profile's
  `target` rendered by dbt (Profile.render_profile: env_var(), as_number, ...);
* the credentials: dbt-postgres's, validated by dbt (Profile._credentials_from_profile).

One fallback dbt does not have: where dbt would find no such profile at all (before
`make profile` copies profiles.yml.example to profiles.yml), the tools read
profiles.yml.example, and describe() says so. `make db-start` runs then.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "profiles.yml.example"


class ConnectionSettingsError(ValueError):
    """The dbt profile cannot give the Python tools a connection."""


@dataclass(frozen=True)
class Target:
    """A profile's target as dbt resolves it."""

    name: str
    credentials: object  # dbt-postgres's PostgresCredentials
    path: Path  # the profiles.yml it came from
    fallback: bool  # True: profiles.yml.example, because dbt finds no profile


def profiles_dir(env: dict | None = None) -> Path:
    """The directory dbt reads profiles.yml from: DBT_PROFILES_DIR (what --profiles-dir reads),
    else dbt's own default (the current directory if it has profiles.yml, else ~/.dbt)."""
    from dbt.cli.resolvers import default_profiles_dir

    env = os.environ if env is None else env
    configured = env.get("DBT_PROFILES_DIR")
    return Path(configured) if configured else default_profiles_dir()


def profiles_file(env: dict | None = None) -> Path:
    """The profiles.yml dbt would read (it may not exist: then the tools read the example)."""
    return profiles_dir(env) / "profiles.yml"


@functools.cache
def _raw_project_profile() -> str | None:
    from dbt.config.project import load_raw_project

    return load_raw_project(str(ROOT)).get("profile")


def profile_name(env: dict | None = None) -> str:
    """DBT_PROFILE (what --profile reads), else dbt_project.yml's profile, rendered as dbt renders it."""
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    env = dict(os.environ) if env is None else env
    set_invocation_context(env)
    return Profile.pick_profile_name(env.get("DBT_PROFILE"), ProfileRenderer({}).render_value(_raw_project_profile()))


def _read(path: Path) -> dict:
    from dbt.config.profile import read_profile

    return read_profile(str(path.parent)) if path.name == "profiles.yml" else _read_yaml(path)


def _read_yaml(path: Path) -> dict:
    from dbt.clients.yaml_helper import load_yaml_text
    from dbt_common.clients.system import load_file_contents

    return load_yaml_text(load_file_contents(str(path), strip=False)) or {}


def resolve(env: dict | None = None, path: Path | None = None, target: str | None = None) -> Target:
    """The target dbt would use (or the one named), from the profiles.yml dbt would read (or `path`)."""
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context
    from dbt_common.exceptions import DbtBaseException

    env = dict(os.environ) if env is None else env
    try:
        name = profile_name(env)
        path = Path(path) if path else profiles_file(env)
        raw = _read(path) if path.is_file() else {}
        fallback = False
        if name not in raw and path != EXAMPLE:  # dbt itself would stop here: no such profile
            path, raw, fallback = EXAMPLE, _read_yaml(EXAMPLE), True
        if not isinstance(raw.get(name), dict):
            raise ConnectionSettingsError(f"{path}: no profile {name!r}")
        set_invocation_context(env)  # env_var() in the profile reads this environment
        target_name, data = Profile.render_profile(
            raw[name], name, target or env.get("DBT_TARGET") or None, ProfileRenderer({})
        )
        data.pop("threads", None)
        credentials = Profile._credentials_from_profile(data, name, target_name)
    except DbtBaseException as exc:
        raise ConnectionSettingsError(f"{path}: {' '.join(str(exc).split())}") from None
    return Target(target_name, credentials, path, fallback)


def target_settings(env: dict | None = None, path: Path | None = None, target: str | None = None) -> tuple[str, dict]:
    """(target name, psycopg2 keyword arguments) of the target dbt would use, or the one named."""
    resolved = resolve(env, path, target)
    return resolved.name, _psycopg2_settings(resolved)


def connection_settings(env: dict | None = None, path: Path | None = None, target: str | None = None) -> dict:
    """psycopg2 keyword arguments for the selected dbt target (or the one named)."""
    return target_settings(env, path, target)[1]


def _psycopg2_settings(resolved: Target) -> dict:
    c = resolved.credentials
    if c.type != "postgres":
        raise ConnectionSettingsError(f"dbt target type {c.type!r}: only postgres-type targets are supported")
    return {"host": str(c.host), "port": int(c.port), "user": str(c.user), "password": str(c.password or ""),
            "dbname": str(c.database)}  # fmt: skip


SHELL_NAMES = {"host": "FRAUD_DB_HOST", "port": "FRAUD_DB_PORT", "user": "FRAUD_DB_USER", "dbname": "FRAUD_DB_NAME"}


def shell_settings(env: dict | None = None, path: Path | None = None, target: str | None = None) -> str:
    """The target's host, port, user and database as shell assignments, for scripts/db.sh
    (the password stays out: the project's own cluster trusts loopback connections)."""
    settings = connection_settings(env, path, target)
    return "\n".join(f"{name}={shlex.quote(str(settings[key]))}" for key, name in SHELL_NAMES.items())


def describe(env: dict | None = None, target: str | None = None) -> str:
    """Where the tools connect, for their messages: 'dbt target greenplum: gpadmin@mdw:7000/fraud'."""
    resolved = resolve(env, target=target)
    s = _psycopg2_settings(resolved)
    where = f"dbt target {resolved.name}: {s['user']}@{s['host']}:{s['port']}/{s['dbname']}"
    if resolved.fallback:
        where += f" (from {EXAMPLE.name}: dbt finds no profile in {profiles_file(env)})"
    return where


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
    parser.add_argument("--target", help="a target of the profile (default: DBT_TARGET, else the profile's target)")
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
