"""The plots written beside a model: loss per epoch, precision-recall, the holdout trade-off."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.train import TrainResult


def _mean_curve(histories: list[list[float]]) -> np.ndarray:
    # Folds stop at different epochs (early stopping): average what each epoch has.
    longest = max(len(h) for h in histories)
    return np.array([np.mean([h[e] for h in histories if len(h) > e]) for e in range(longest)])


def plot_loss(result: TrainResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        if result.cv is not None:
            curve = _mean_curve([f.history[key] for f in result.cv.folds])
        else:
            curve = np.asarray(result.history[key])
        ax.plot(np.arange(1, len(curve) + 1), curve, marker="o", label=label)
    title = f"Loss, mean over {len(result.cv.folds)} folds" if result.cv is not None else "Loss (weighted in training)"
    ax.set(xlabel="epoch", ylabel="binary cross-entropy", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_pr(result: TrainResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(6, 4))
    if result.cv is not None:
        for f in result.cv.folds:
            precision, recall, _ = precision_recall_curve(f.val_y, f.val_prob)
            best = f.index == result.cv.best
            style = {"lw": 2.5} if best else {"lw": 1, "alpha": 0.5}
            ax.plot(recall, precision, label=f"fold {f.index + 1}" + (" (best)" if best else ""), **style)
    elif result.val_y is not None:
        precision, recall, _ = precision_recall_curve(result.val_y, result.val_prob)
        ax.plot(recall, precision, label="validation rows")
    if result.holdout is not None:
        precision, recall, _ = precision_recall_curve(result.holdout_y, result.holdout_prob)
        ax.plot(recall, precision, lw=2.5, color="black", label="holdout (later rows)")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_tradeoff(result: TrainResult, curve: list[dict], path: Path) -> None:
    """Holdout precision, recall and rows flagged against the threshold, the shipped one marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([p["threshold"] for p in curve])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(t, [p["precision"] for p in curve], label="precision")
    ax.plot(t, [p["recall"] for p in curve], label="recall")
    ax.axvline(result.threshold, color="grey", ls="--", label=f"shipped threshold {result.threshold:.3g}")
    ax.set(xlabel="threshold (flag when probability >= threshold)", ylabel="on holdout rows", ylim=(0, 1.02))
    if t.min() > 0 and t.max() < 1:
        ax.set_xscale("logit")  # class weights push probabilities towards 0 and 1
    twin = ax.twinx()
    twin.plot(t, [p["flagged"] for p in curve], color="black", lw=1, alpha=0.6, label="rows flagged")
    twin.set(ylabel="rows flagged", yscale="log")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small", loc="lower left")
    ax.set_title(
        f"Trade-off on {result.holdout['rows']:,} later rows ({result.holdout['tp'] + result.holdout['fn']} frauds)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
