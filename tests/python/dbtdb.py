"""Drive the real database and dbt from tests, in schemas of their own."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from training.db import connect

ROOT = Path(__file__).resolve().parents[2]
DBT = str(ROOT / ".venv" / "bin" / "dbt")


@dataclass
class DbtProject:
    """One isolated copy of the project's schemas: raw, scoring (fraud) and models."""

    suffix: str
    profiles_dir: Path
    user: str = "postgres"
    extra_vars: dict = field(default_factory=dict)

    @property
    def raw_schema(self) -> str:
        return f"test_raw_{self.suffix}"

    @property
    def fraud_schema(self) -> str:
        return f"test_fraud_{self.suffix}"

    @property
    def schema(self) -> str:
        return f"test_analytics_{self.suffix}"

    @property
    def analyst(self) -> str:
        return f"test_analyst_{self.suffix}"

    def vars(self, **more) -> dict:
        return {"raw_schema": self.raw_schema, "fraud_schema": self.fraud_schema, **self.extra_vars, **more}

    def dbt(
        self, *args: str, check: bool = True, user: str | None = None, schema_suffix: str = "", **vars
    ) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "FRAUD_DBT_SCHEMA": self.schema + schema_suffix,
            "FRAUD_PG_USER": user or self.user,
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        cmd = [
            DBT,
            *args,
            "--vars",
            json.dumps(self.vars(**vars)),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target-path",
            f"target/test_{self.suffix}",
            "--log-path",
            f"logs/test_{self.suffix}",
        ]
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if check and result.returncode:
            pytest.fail(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
        return result


def query(sql: str, params=None, user: str = "postgres"):
    conn = connect(user=user)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()
