"""python -m training {generate,train,load,register}: see --help of each."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training.config import PROFILES, SMOTE_MODES


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="cross-validate the 2017 network and write the artifacts")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="a Kaggle-format CSV (creditcard.csv)")
    src.add_argument("--synthetic", type=int, metavar="ROWS", help="train on ROWS generated transactions")
    p.add_argument("--out", type=Path, required=True, help="directory for model.h5, metadata.json, plots, card")
    p.add_argument("--profile", choices=sorted(PROFILES), default="2017", help="starting values (default: 2017)")
    for name, kind in (
        ("folds", int),
        ("epochs", int),
        ("batch-size", int),
        ("patience", int),
        ("dropout-rate", float),
        ("seed", int),
        ("threshold", float),
    ):
        p.add_argument(f"--{name}", type=kind, help="overrides the profile")
    p.add_argument("--smote", choices=SMOTE_MODES, help="honest (default), leaky (the 2017 protocol), none")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a synthetic Kaggle-format CSV")
    g.add_argument("--rows", type=int, default=284_807)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--out", type=Path, required=True)

    _add_train(sub)

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


def _train(args) -> int:
    from training import artifacts, data
    from training.train import cross_validate

    cfg = PROFILES[args.profile]
    overrides = {
        k: v
        for k, v in vars(args).items()
        if k in ("folds", "epochs", "batch_size", "patience", "dropout_rate", "seed", "threshold", "smote")
        and v is not None
    }
    cfg = cfg.replace(**overrides)
    dataset = data.load_kaggle_csv(args.data) if args.data else data.synthetic_dataset(args.synthetic, seed=cfg.seed)
    print(f"training on {dataset.describe()} with {cfg}", file=sys.stderr)
    started = time.perf_counter()
    result = cross_validate(dataset.X, dataset.y, cfg)
    elapsed = time.perf_counter() - started
    meta = artifacts.save(result, dataset.describe(), args.out, elapsed)
    avg = meta["metrics"]["average"]
    print(
        f"wrote {args.out}/{artifacts.MODEL_FILE} ({meta['model_version']}) in {elapsed:.0f} s; "
        f"mean over folds: precision {avg['precision']:.3f} recall {avg['recall']:.3f} "
        f"f1 {avg['f1']:.3f} roc_auc {avg['roc_auc']:.4f} pr_auc {avg['pr_auc']:.3f}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training.data import DataError
    from training.register import RegistryError

    try:
        if args.command == "generate":
            from training.data import write_synthetic_csv

            started = time.perf_counter()
            write_synthetic_csv(args.out, args.rows, args.seed)
            print(f"wrote {args.rows:,} rows to {args.out} in {time.perf_counter() - started:.1f} s")
        elif args.command == "train":
            return _train(args)
        elif args.command == "load":
            from training.db import connection
            from training.loading import load_csv

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
        elif args.command == "register":
            from training.db import connection
            from training.register import register

            with connection() as conn:
                version, new = register(conn, args.model_dir, args.schema)
            print(json.dumps({"model_version": version, "registered": new}))
    except (DataError, RegistryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
