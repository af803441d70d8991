"""Connections to the project's database, from the same variables profiles.yml reads."""

from __future__ import annotations

import contextlib
import os


def connection_settings() -> dict:
    return {
        "host": os.environ.get("FRAUD_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("FRAUD_PG_PORT", "55432")),
        "user": os.environ.get("FRAUD_PG_USER", "postgres"),
        "password": os.environ.get("FRAUD_PG_PASSWORD", ""),
        "dbname": os.environ.get("FRAUD_PG_DATABASE", "fraud"),
    }


def connect(**overrides):
    import psycopg2

    settings = {**connection_settings(), **overrides}
    if not settings["password"]:
        settings.pop("password")
    return psycopg2.connect(**settings)


@contextlib.contextmanager
def connection(**overrides):
    """A connection that is closed afterwards (psycopg2's own `with` only ends a transaction)."""
    conn = connect(**overrides)
    try:
        yield conn
    finally:
        conn.close()
