"""The stack contract: what SQL packs for the scorer and what the scorer reads back.

Its one definition is `vars.fraud_stack` in dbt_project.yml. The macros read it with
fraud_stack_contract(); the install renders it into the scoring functions' body, so
the scorer in the database gets it from there (StackContract.from_mapping); Python
in a checkout (training, tests, the benchmark) reads the file (project_contract).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_FILE = Path(__file__).resolve().parent.parent / "dbt_project.yml"


@dataclass(frozen=True)
class StackContract:
    """A stack row: the id, then every feature, big-endian (PostgreSQL's int8send / float4send)."""

    # The defaults are dbt_project.yml's values, for in-process use where no project file
    # is at hand (an installed copy, the registry's check of a model); the database always
    # passes the contract the install rendered, and a test checks that the two agree.
    features: tuple[str, ...]  # the model's inputs, in its input order (the Kaggle file's names)
    id_bytes: int = 8
    feature_bytes: int = 4
    quarantined_bits: int = 0x7FBAD000  # the probability bits of a row that cannot be scored

    @classmethod
    def from_mapping(cls, values: dict) -> StackContract:
        features = values.get("features")
        if not isinstance(features, list | tuple) or not features or not all(isinstance(f, str) for f in features):
            raise ValueError("the stack contract's features must be a non-empty list of column names")
        contract = cls(
            features=tuple(features),
            id_bytes=int(values.get("id_bytes", cls.id_bytes)),
            feature_bytes=int(values.get("feature_bytes", cls.feature_bytes)),
            quarantined_bits=int(values.get("quarantined_bits", cls.quarantined_bits)),
        )
        if contract.id_bytes != 8 or contract.feature_bytes != 4:
            # stated so that nothing restates 8, 4, 112 or 120; not knobs (the scorer computes in float32)
            raise ValueError("the stack contract: the scorer reads 8-byte ids and 4-byte features")
        return contract

    @property
    def columns(self) -> tuple[str, ...]:
        """The features as SQL column names (unquoted identifiers fold to lower case)."""
        return tuple(name.lower() for name in self.features)

    @property
    def id_dtype(self) -> np.dtype:
        return np.dtype(f">i{self.id_bytes}")

    @property
    def feature_dtype(self) -> np.dtype:
        return np.dtype(f">f{self.feature_bytes}")

    @property
    def feature_row_bytes(self) -> int:
        return self.feature_bytes * len(self.features)

    @property
    def row_bytes(self) -> int:
        return self.id_bytes + self.feature_row_bytes


@functools.cache
def project_vars(path: Path | str = PROJECT_FILE) -> dict:
    """The vars of a checkout's dbt_project.yml (read once per path): where the stack contract
    and the name patterns (warehouse.names) are defined. Not available to an installed copy."""
    import yaml

    try:
        project = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise FileNotFoundError(f"cannot read the project's vars from {path}: {exc.strerror}") from None
    values = project.get("vars") if isinstance(project, dict) else None
    return values if isinstance(values, dict) else {}


def project_contract(path: Path | str = PROJECT_FILE) -> StackContract:
    """The contract in a checkout's dbt_project.yml (not available to an installed copy)."""
    values = project_vars(path).get("fraud_stack")
    if not isinstance(values, dict):
        raise ValueError(f"{path} has no vars.fraud_stack (the stack contract)")
    return StackContract.from_mapping(values)
