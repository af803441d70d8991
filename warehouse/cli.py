"""python -m warehouse {load,register}: see --help of each.

Both connect where dbt does (warehouse.connection) and say where before writing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m warehouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    ld = sub.add_parser("load", help="load a Kaggle-format CSV into raw.credit_card (all or nothing)")
    ld.add_argument("--csv", type=Path, required=True)
    ld.add_argument("--table", default="raw.credit_card")
    ld.add_argument("--append", action="store_true", help="add rows after the existing ones")
    ld.add_argument(
        "--duplicates",
        choices=("warn", "error"),
        default="warn",
        help="rows repeating an earlier row exactly: report them and load (the real Kaggle file has some), "
        "or stop and load nothing",
    )
    ld.add_argument(
        "--distributed-by",
        metavar="COLUMN",
        help="Greenplum / Cloudberry: distribute the raw table by this column (default: DISTRIBUTED RANDOMLY)",
    )

    r = sub.add_parser("register", help="store a trained model in the database's model registry")
    r.add_argument("--model-dir", type=Path, required=True)
    r.add_argument("--schema", default="fraud")
    return parser


def load(args) -> None:
    from warehouse.connection import connection, describe
    from warehouse.loading import load_csv

    # say where before writing: the target comes from the dbt profile
    print(f"loading {args.csv} into {args.table} ({describe()})", flush=True)
    started = time.perf_counter()
    with connection() as conn:
        rows = load_csv(
            conn,
            args.csv,
            args.table,
            append=args.append,
            distributed_by=args.distributed_by,
            duplicates=args.duplicates,
        )
    verb = "appended" if args.append else "loaded"
    print(f"{verb} {rows:,} rows from {args.csv} into {args.table} in {time.perf_counter() - started:.1f} s")


def register(args) -> None:
    from fraud_scoring.model_format import load_metadata
    from warehouse.connection import connection, describe
    from warehouse.registry import register as register_model

    print(f"registering {args.model_dir} in {args.schema}.models ({describe()})", file=sys.stderr)
    with connection() as conn:
        version, new = register_model(conn, args.model_dir, args.schema)
    metadata = load_metadata(args.model_dir)
    for key, what, model in (
        ("reference_scores", "score", "fraud_score_drift"),
        ("reference_features", "input (feature)", "fraud_feature_drift"),
    ):
        if key not in metadata:
            print(
                f"{version} has no reference {what} distribution (trained before training wrote one): "
                f"{model} says 'no reference' for it; retrain to measure its drift",
                file=sys.stderr,
            )
    print(json.dumps({"model_version": version, "registered": new}))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from fraud_scoring.kaggle import DataError
    from warehouse.registry import RegistryError

    try:
        {"load": load, "register": register}[args.command](args)
    except (DataError, RegistryError, ValueError) as exc:  # ConnectionSettingsError too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
