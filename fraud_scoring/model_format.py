"""The trained-model directory format: what training writes and the warehouse registers.

A contract shared by training and the warehouse, which read it here and never import
each other: the file names, the model file's digest, the metadata reader. Standard
library only, so registering a model imports no training dependency.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MODEL_FILE = "model.h5"
METADATA_FILE = "metadata.json"


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_metadata(model_dir: Path | str) -> dict:
    return json.loads((Path(model_dir) / METADATA_FILE).read_text())
