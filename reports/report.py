"""The report: the list of sections, and the page they make."""

from __future__ import annotations

import datetime
from pathlib import Path

from . import pending, sections
from .database import Reader, default_schema
from .html import Section, page
from .summary import findings

# In reading order. A new section is a function Reader -> Section added here.
SECTIONS = [
    sections.deployments,
    sections.score_distribution,
    sections.psi_over_time,
    pending.feature_drift,
    pending.label_performance,
    pending.threshold_bands,
]


def build(conn, schema: str | None = None) -> tuple[str, list[Section]]:
    """(the HTML page, its sections) for the relations of `schema` (default: dbt's)."""
    schema = schema or default_schema()
    db = Reader(conn, schema)
    # one read-only transaction: every section reads the same snapshot
    conn.set_session(readonly=True, isolation_level="REPEATABLE READ")
    try:
        with conn:
            built = [section(db) for section in SECTIONS]
            glance = findings(db)
    finally:
        conn.set_session(readonly=False, isolation_level="DEFAULT")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return page("Fraud scoring: monitoring report", f"schema {schema}, written {now}", built, glance), built


def write(conn, out: Path, schema: str | None = None) -> list[Section]:
    html, built = build(conn, schema)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return built
