"""python -m reports --out target/monitoring_report.html [--screenshot PNG] [--summary]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from warehouse.connection import connection, describe

from .database import default_schema
from .report import write
from .summary import summary_lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports", description="Write the monitoring report (HTML).")
    parser.add_argument("--out", type=Path, default=Path("target/monitoring_report.html"))
    parser.add_argument(
        "--schema", default=None, help="the dbt schema to read (default: FRAUD_DBT_SCHEMA or analytics)"
    )
    parser.add_argument("--screenshot", type=Path, help="also render it in headless Chromium into this PNG")
    parser.add_argument("--summary", action="store_true", help="print the monitoring summary too")
    args = parser.parse_args(argv)
    schema = args.schema or default_schema()
    with connection() as conn:
        sections = write(conn, args.out, schema)
        lines = summary_lines(conn, schema) if args.summary else []
    for line in lines:
        print(line)
    gaps = [m for s in sections for m in s.missing]
    print(f"wrote {args.out} ({describe()}, schema {schema}): {len(sections)} sections, {len(gaps)} gaps")
    for gap in gaps:
        print(f"  {gap}")
    if args.screenshot:
        from .browser import screenshot

        print(f"wrote {screenshot(args.out, args.screenshot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
