"""What the report reads: the relations of one dbt schema, through warehouse.connection,
and the drift alarm levels from dbt_project.yml."""

from __future__ import annotations

import decimal
import functools
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_schema() -> str:
    """The schema dbt builds into: FRAUD_DBT_SCHEMA, as profiles.yml.example reads it."""
    return os.environ.get("FRAUD_DBT_SCHEMA", "analytics")


@functools.cache
def psi_levels() -> tuple[float, float]:
    """(warn, error): vars fraud_psi_warn and fraud_psi_error as dbt_project.yml sets them
    (the levels fraud_score_drift's drift_status uses unless a run overrides them)."""
    import yaml

    project_vars = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]
    return float(project_vars["fraud_psi_warn"]), float(project_vars["fraud_psi_error"])


@dataclass
class Reader:
    """Queries on the relations of one schema (an open psycopg2 connection, read only)."""

    conn: object
    schema: str

    def exists(self, relation: str) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("select to_regclass(%s) is not null", (f'"{self.schema}"."{relation}"',))
            return cur.fetchone()[0]

    def rows(self, sql: str, params=None) -> list[dict]:
        """The rows of `sql` as dicts; `{schema}` in it names this schema."""
        with self.conn.cursor() as cur:
            cur.execute(sql.replace("{schema}", f'"{self.schema}"'), params)
            names = [c.name for c in cur.description]
            return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]

    def table(self, relation: str, order_by: str = "") -> list[dict]:
        """Every row of a relation of this schema (the monitoring relations are small)."""
        return self.rows(f'select * from {{schema}}."{relation}"' + (f" order by {order_by}" if order_by else ""))


def _plain(value):
    """numeric (sum() of bigints, casts) as an int when whole, else a float: what the tables show."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def not_built(relation: str) -> str:
    return f"not available: {relation} is not built"
