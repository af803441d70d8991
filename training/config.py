"""Every training knob in one typed place; defaults are the 2017 post's values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SMOTE_MODES = ("honest", "leaky", "none")


@dataclass(frozen=True)
class TrainConfig:
    folds: int = 10
    epochs: int = 20
    batch_size: int = 32
    patience: int = 4
    dropout_rate: float = 0.5
    learning_rate: float = 0.001  # RMSprop's default, as in the post
    seed: int = 42
    threshold: float = 0.5
    # honest: SMOTE on the training folds only; leaky: the 2017 protocol, SMOTE
    # before the split (shown only to compare reported figures); none: no SMOTE.
    smote: str = "honest"

    def __post_init__(self) -> None:
        checks = {
            "folds": self.folds >= 2,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "patience": self.patience >= 0,
            "dropout_rate": 0.0 <= self.dropout_rate < 1.0,
            "learning_rate": self.learning_rate > 0,
            "threshold": 0.0 < self.threshold < 1.0,
            "smote": self.smote in SMOTE_MODES,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{n}={getattr(self, n)!r}" for n in bad)
            raise ValueError(f"invalid training config: {values}")

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


PROFILES = {
    # The 2017 protocol: 10 folds, 20 epochs, batch 32 (about an hour here).
    "2017": TrainConfig(),
    # `make demo` and the tests: 3 folds, 3 epochs, batch 256, patience 1.
    "quick": TrainConfig(folds=3, epochs=3, batch_size=256, patience=1),
}
