"""python -m warehouse {load,labels,register}: see --help of each.

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

    lb = sub.add_parser(
        "labels",
        help="add label events to raw.credit_card_labels (all or nothing; docs/labels.md)",
        description="Label events: a later event for the same transaction corrects an earlier one "
        "(the latest labeled_at wins). Unknown transaction ids, bad labels and malformed times are "
        "refused and nothing is written.",
    )
    feed = lb.add_mutually_exclusive_group(required=True)
    feed.add_argument("--csv", type=Path, help="a CSV with the header transaction_id,label,labeled_at")
    feed.add_argument(
        "--from-class",
        action="store_true",
        help="the raw table's Kaggle class as labels, labeled at the transaction's time (or --labeled-at)",
    )
    lb.add_argument("--transactions", default="raw.credit_card", help="the raw table the labels are of")
    lb.add_argument("--table", help="the labels table (default: the raw table's name + _labels)")
    lb.add_argument("--labeled-at", help="with --from-class: one labeled_at for every label (ISO 8601, with zone)")
    lb.add_argument(
        "--time-origin",
        default=None,
        help="with --from-class: the time of Time = 0 (default 2013-09-01 00:00:00+00, as dbt's var fraud_time_origin)",
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


def labels(args) -> None:
    from warehouse import labels as lab
    from warehouse.connection import connection, describe

    table = args.table or lab.labels_table_for(args.transactions)
    if args.csv is not None and (args.labeled_at or args.time_origin):
        raise ValueError("--labeled-at and --time-origin apply to --from-class only")
    try:  # before connecting: a bad option writes nothing and reaches no database
        labeled_at = lab.parse_time(args.labeled_at) if args.labeled_at else None
        lab.parse_time(args.time_origin or lab.TIME_ORIGIN)
    except ValueError as exc:
        raise ValueError(f"--labeled-at {args.labeled_at!r} / --time-origin {args.time_origin!r}: {exc}") from None
    rows = lab.read_labels_csv(args.csv) if args.csv is not None else None  # a bad file: refused before connecting
    feed = args.csv if args.csv is not None else f"{args.transactions}.class"
    print(f"loading labels from {feed} into {table} ({describe()})", flush=True)
    started = time.perf_counter()
    with connection() as conn:
        if args.csv is not None:
            new = lab.load_label_rows(conn, rows, args.transactions, table, str(args.csv))
        else:
            new = lab.load_labels_from_class(
                conn, args.transactions, table, labeled_at, args.time_origin or lab.TIME_ORIGIN
            )
    print(f"added {new:,} label events to {table} in {time.perf_counter() - started:.1f} s")


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
        {"load": load, "labels": labels, "register": register}[args.command](args)
    except (DataError, RegistryError, ValueError) as exc:  # ConnectionSettingsError too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
