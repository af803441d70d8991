"""python -m training {generate,train,report}: see --help of each.

Loading raw data and registering models are the warehouse's jobs: python -m warehouse.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from training.config import CLASS_WEIGHTS, MONITORS, OPTIMIZERS, PROFILES, PROTOCOLS, SMOTE_MODES

KNOBS = (
    ("folds", int),
    ("epochs", int),
    ("batch-size", int),
    ("patience", int),
    ("dropout-rate", float),
    ("learning-rate", float),
    ("seed", int),
)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="cross-validate the 2017 network and write the artifacts")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="a Kaggle-format CSV (creditcard.csv)")
    src.add_argument("--synthetic", type=int, metavar="ROWS", help="train on ROWS generated transactions")
    p.add_argument("--out", type=Path, required=True, help="directory for model.h5, metadata.json, plots, card")
    p.add_argument("--profile", choices=sorted(PROFILES), default="2017", help="starting values (default: 2017)")
    for name, kind in KNOBS:
        p.add_argument(f"--{name}", type=kind, help="overrides the profile")
    p.add_argument("--smote", choices=SMOTE_MODES, help="honest (default), leaky (the 2017 protocol), none")
    p.add_argument("--class-weight", choices=CLASS_WEIGHTS, help="balanced: weigh frauds instead of resampling")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="rmsprop (2017) or adam")
    ev = p.add_argument_group("evaluation")
    ev.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        help="kfold: the 2017 stratified k-fold, best fold by recall; split: one model on the earliest rows, "
        "early stopping and threshold on the next ones",
    )
    ev.add_argument(
        "--holdout",
        type=float,
        metavar="SHARE",
        help="the latest SHARE of rows by Time, never used to train, select or threshold; every reported figure "
        "comes from it (default 0.2; 0: none, figures on validation folds as in 2017)",
    )
    ev.add_argument(
        "--validation", type=float, metavar="SHARE", help="split: the SHARE of rows before the holdout (default 0.2)"
    )
    ev.add_argument("--monitor", choices=MONITORS, help="early stopping on validation loss or PR-AUC")
    th = p.add_argument_group("threshold (chosen on validation rows only)").add_mutually_exclusive_group()
    th.add_argument("--threshold", type=float, help="a fixed threshold (2017: 0.5)")
    th.add_argument(
        "--threshold-recall", type=float, metavar="R", help="the best precision at a validation recall of at least R"
    )
    th.add_argument(
        "--cost-ratio",
        type=float,
        metavar="C",
        help="the least C x missed frauds + false alarms (C: what a missed fraud costs against a false alarm)",
    )


TRAIN_OPTIONS = (
    "folds",
    "epochs",
    "batch_size",
    "patience",
    "dropout_rate",
    "learning_rate",
    "seed",
    "smote",
    "class_weight",
    "optimizer",
    "protocol",
    "holdout",
    "validation",
    "monitor",
)


def train_config(args):
    """The profile with the command line's overrides; a threshold option replaces the profile's rule."""
    cfg = PROFILES[args.profile]
    overrides = {k: v for k, v in vars(args).items() if k in TRAIN_OPTIONS and v is not None}
    if args.threshold is not None:
        overrides |= {"threshold": args.threshold, "threshold_recall": None, "cost_ratio": None}
    elif args.threshold_recall is not None:
        overrides |= {"threshold_recall": args.threshold_recall, "cost_ratio": None}
    elif args.cost_ratio is not None:
        overrides |= {"cost_ratio": args.cost_ratio, "threshold_recall": None}
    if overrides.get("class_weight") == "balanced" and "smote" not in overrides:
        overrides["smote"] = "none"
    return cfg.replace(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a synthetic Kaggle-format CSV")
    g.add_argument("--rows", type=int, default=284_807)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--out", type=Path, required=True)

    _add_train(sub)

    rep = sub.add_parser("report", help="one markdown table row per trained model directory (holdout figures)")
    rep.add_argument("model_dirs", type=Path, nargs="+")

    return parser


def _train(args) -> int:
    from training import artifacts, data
    from training.train import train

    cfg = train_config(args)
    dataset = data.load_kaggle_csv(args.data) if args.data else data.synthetic_dataset(args.synthetic, seed=cfg.seed)
    print(f"training on {dataset.describe()} with {cfg}", file=sys.stderr)
    started = time.perf_counter()
    result = train(dataset.X, dataset.y, dataset.time, cfg)
    elapsed = time.perf_counter() - started
    meta = artifacts.save(result, dataset.describe(), args.out, elapsed)
    print(f"wrote {args.out}/{artifacts.MODEL_FILE} ({meta['model_version']}) in {elapsed:.0f} s; {summary_line(meta)}")
    return 0


def summary_line(meta: dict) -> str:
    """The figures to quote: the holdout's at the shipped threshold, else the 2017 fold means."""
    m = meta.get("holdout_metrics")
    if m:
        return (
            f"holdout ({m['rows']:,} later rows) at threshold {meta['threshold']:.4g}: precision {m['precision']:.3f} "
            f"recall {m['recall']:.3f} f1 {m['f1']:.3f} roc_auc {m['roc_auc']:.4f} pr_auc {m['pr_auc']:.3f}, "
            f"{m['tp'] + m['fp']:,} flagged"
        )
    avg = meta["metrics"]["average"]
    return (
        f"no holdout; mean over validation folds: precision {avg['precision']:.3f} recall {avg['recall']:.3f} "
        f"f1 {avg['f1']:.3f} roc_auc {avg['roc_auc']:.4f} pr_auc {avg['pr_auc']:.3f}"
    )


def report(model_dirs: list[Path]) -> str:
    """Holdout figures at each model's shipped threshold, and the validation figures it was chosen by."""
    from training.artifacts import load_metadata

    lines = [
        "| model | training s | threshold | precision | recall | F1 | PR-AUC | ROC-AUC | flagged "
        "| precision / recall as validated |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d in model_dirs:
        m = load_metadata(d)
        h = m.get("holdout_metrics")
        if m.get("best_fold_metrics"):  # 2017: the fold means, and the best fold it reported
            avg = m["metrics"]["average"]
            validated = f"{avg['precision']:.3f} / {avg['recall']:.3f} (fold mean)"
        else:
            validated = f"{m['validation_metrics']['precision']:.3f} / {m['validation_metrics']['recall']:.3f}"
        if not h:
            lines.append(
                f"| {d} | {m['training_seconds']:,.0f} | {m['threshold']:.3g} | no holdout | | | | | | {validated} |"
            )
            continue
        lines.append(
            f"| {d} | {m['training_seconds']:,.0f} | {m['threshold']:.3g} | {h['precision']:.3f} | {h['recall']:.3f} "
            f"| {h['f1']:.3f} | {h['pr_auc']:.3f} | {h['roc_auc']:.3f} | {h['tp'] + h['fp']:,} | {validated} |"
        )
    return "\n".join(lines)


MOVED = {"load": "python -m warehouse load", "register": "python -m warehouse register"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in MOVED:
        print(f"error: `python -m training {argv[0]}` is now `{MOVED[argv[0]]}`", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    from training.data import DataError

    try:
        if args.command == "generate":
            from training.data import write_synthetic_csv

            started = time.perf_counter()
            write_synthetic_csv(args.out, args.rows, args.seed)
            print(f"wrote {args.rows:,} rows to {args.out} in {time.perf_counter() - started:.1f} s")
        elif args.command == "train":
            return _train(args)
        elif args.command == "report":
            print(report(args.model_dirs))
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
