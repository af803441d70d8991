"""Model files on the server's disk (var fraud_model_path), read only inside the allowed directory."""

import hashlib
import json
import os

from fraud_scoring.errors import ScoringError
from fraud_scoring.model_audit import MAX_MODEL_FILE_BYTES


def resolve_model_path(model_dir, path):
    """The real path of a model file, which must lie inside model_dir (set by a superuser).

    Without this a caller could make the server read any file it can read
    (/etc/passwd, the cluster's own files) through the scorer.
    """
    if not model_dir:
        raise ScoringError(
            "loading models from files is off: a superuser can allow one directory with "
            "`dbt run-operation install_fraud_scoring --vars '{fraud_model_dir: /path/to/models}'`"
        )
    base = os.path.realpath(model_dir)
    full = os.path.realpath(os.path.join(base, path))
    if os.path.commonpath([base, full]) != base:
        raise ScoringError(f"model path {path!r} is outside the model directory {base}")
    if not full.endswith(".h5"):
        raise ScoringError(f"model path {path!r} is not a .h5 file")
    return full


def read_model_file(model_dir, path):
    """(h5 bytes, metadata, sha256) of a model file and the metadata.json beside it."""
    full = resolve_model_path(model_dir, path)
    meta_path = os.path.join(os.path.dirname(full), "metadata.json")
    try:
        with open(full, "rb") as f:
            h5_bytes = f.read(MAX_MODEL_FILE_BYTES + 1)
        if len(h5_bytes) > MAX_MODEL_FILE_BYTES:
            raise ScoringError(f"model file {path!r} is over the limit of {MAX_MODEL_FILE_BYTES} bytes")
        with open(meta_path) as f:
            metadata = json.load(f)
    except OSError as exc:
        raise ScoringError(f"cannot read model file {path!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise ScoringError(f"{meta_path} is not valid JSON: {exc}") from None
    sha = hashlib.sha256(h5_bytes).hexdigest()
    if metadata.get("sha256") != sha:
        raise ScoringError(f"{full} does not match the sha256 in {meta_path}: the file changed after training")
    return h5_bytes, metadata, sha
