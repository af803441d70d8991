"""Put a trained model into the database's registry (fraud.models)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fraud_scoring.feature_bins import problem as feature_reference_problem
from fraud_scoring.model_audit import ModelFileRefused, check_model_size
from fraud_scoring.model_format import METADATA_FILE, MODEL_FILE, sha256_file
from warehouse.names import pattern

VERSION_RE = pattern("model_version")  # warehouse.names: the same constant patterns as the macros'
SCHEMA_RE = pattern("identifier")


class RegistryError(RuntimeError):
    pass


KERAS_FILE = "model.keras"  # a Keras 3 native model, accepted beside (instead of) model.h5


def read_model_dir(model_dir: Path | str) -> tuple[bytes, dict]:
    """The .h5 bytes and metadata, checked against each other and loadable by the scorer.

    The model is audited as the scorer audits it (fraud_scoring.model_audit: plain float32
    data inside the file, no external storage, links or filters, bounded sizes; Dense and
    Dropout layers), and its threshold must be a number strictly between 0 and 1: a model
    the scorer would refuse is refused here, before it reaches the registry. A directory
    with model.keras instead of model.h5 is converted (load_keras_file).
    """
    from fraud_scoring.model_audit import checked_threshold
    from fraud_scoring.scorer import ScoringError, load_numpy_model

    model_dir = Path(model_dir)
    h5_path, keras_path, meta_path = model_dir / MODEL_FILE, model_dir / KERAS_FILE, model_dir / METADATA_FILE
    model_path = h5_path if h5_path.is_file() or not keras_path.is_file() else keras_path
    for path in (model_path, meta_path):
        if not path.is_file():
            raise RegistryError(f"{path}: not found (train a model into {model_dir} first)")
    try:
        metadata = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise RegistryError(f"{meta_path}: not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise RegistryError(f"{meta_path}: not a JSON object")
    for key in ("model_version", "model_name", "sha256", "features"):
        if key not in metadata:
            raise RegistryError(f"{meta_path}: missing key {key!r}")
    if not pattern("model_version").fullmatch(str(metadata["model_version"])):
        raise RegistryError(
            f"{meta_path}: model_version {metadata['model_version']!r} may hold only letters, digits, '.', '_', '-'"
        )
    if not isinstance(metadata["features"], list) or not all(isinstance(f, str) for f in metadata["features"]):
        raise RegistryError(f"{meta_path}: features must be a list of column names")
    if "threshold" in metadata:
        try:
            checked_threshold(metadata["threshold"], "threshold")
        except ModelFileRefused as exc:
            raise RegistryError(f"{meta_path}: {exc}") from None
    if "reference_scores" in metadata:
        problem = reference_problem(metadata["reference_scores"])
        if problem:
            raise RegistryError(f"{meta_path}: reference_scores {problem}")
    if "reference_features" in metadata:
        problem = feature_reference_problem(metadata["reference_features"], metadata["features"])
        if problem:
            raise RegistryError(f"{meta_path}: reference_features {problem}")
    try:
        check_model_size(model_path.stat().st_size)
    except ModelFileRefused as exc:
        raise RegistryError(f"{model_path}: {exc}") from None
    if sha256_file(model_path) != metadata["sha256"]:
        raise RegistryError(f"{model_path}: sha256 differs from {meta_path}: the model file changed after training")
    if model_path == keras_path:
        try:
            h5 = load_keras_file(keras_path)
        except ModelFileRefused as exc:
            raise RegistryError(f"{keras_path}: {exc}") from None
        # the registry holds what the scorer reads; the .keras file's own hash is kept beside it
        metadata = {**metadata, "source_sha256": metadata["sha256"], "source_format": "keras"}
        metadata["sha256"] = hashlib.sha256(h5).hexdigest()
    else:
        h5 = h5_path.read_bytes()
    try:
        load_numpy_model(h5, len(metadata["features"]))
    except ScoringError as exc:
        raise RegistryError(f"{model_path}: {exc}") from None
    return h5, metadata


def reference_problem(ref) -> str | None:
    """What is wrong with a reference score distribution (fraud_scoring.score_bins.reference), or None.
    fraud_score_drift reads its psi_bins in SQL: upper_bin integers rising to the last bin's
    2^31 - 1, shares that sum to 1."""
    bins = ref.get("psi_bins") if isinstance(ref, dict) else None
    if not isinstance(bins, list) or not bins or not all(isinstance(b, dict) for b in bins):
        return "must hold psi_bins, a list of {upper_bin, share}"
    uppers = [b.get("upper_bin") for b in bins]
    shares = [b.get("share") for b in bins]
    if not all(isinstance(u, int) and not isinstance(u, bool) for u in uppers) or uppers != sorted(set(uppers)):
        return "psi_bins' upper_bin must be rising integers"
    if uppers[-1] != 2**31 - 1:
        return "the last of psi_bins must have upper_bin 2147483647 (every bin above the others)"
    if not all(isinstance(x, int | float) and 0 <= x <= 1 for x in shares) or abs(sum(shares) - 1) > 1e-6:
        return "psi_bins' shares must be numbers in [0, 1] summing to 1"
    if not isinstance(ref.get("rows"), int) or ref["rows"] < 1:
        return "rows must be a positive integer"
    return None


def load_keras_file(path: Path) -> bytes:
    """A Keras 3 `.keras` model as the .h5 bytes the scorer reads.

    A .keras file is a zip of config.json, metadata.json and model.weights.h5. Before Keras
    sees it: the zip holds exactly those members, at most MAX_MODEL_FILE_BYTES unpacked (no
    zip bomb); the config's layers are among ACCEPTED_LAYERS (no Lambda, no custom class);
    the weights file passes the scorer's HDF5 audit. Then Keras loads it with safe_mode=True
    and saves it as a legacy .h5 without optimizer, which read_model_dir audits and loads
    like any other. The scorer keeps reading one format: the conversion runs here, at the
    registrar's, never in the database.
    """
    import io
    import tempfile
    import zipfile

    import h5py

    from fraud_scoring.model_audit import (
        ACCEPTED_DTYPES,
        ACCEPTED_LAYERS,
        KERAS_MEMBERS,
        MAX_MODEL_FILE_BYTES,
        audit_h5,
    )

    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ModelFileRefused(f"not a .keras file (a zip): {exc}") from None
    with archive:
        infos = archive.infolist()
        names = sorted(info.filename for info in infos)
        if names != sorted(KERAS_MEMBERS):
            raise ModelFileRefused(f"a .keras file holds exactly {', '.join(KERAS_MEMBERS)}; found {', '.join(names)}")
        unpacked = sum(info.file_size for info in infos)
        if unpacked > MAX_MODEL_FILE_BYTES:
            raise ModelFileRefused(f"the .keras file unpacks to {unpacked} bytes, over {MAX_MODEL_FILE_BYTES}")
        try:
            config = json.loads(archive.read("config.json"))
            layers = config["config"]["layers"]
            kinds = [layer["class_name"] for layer in layers]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileRefused(f"the .keras file's config.json is not a Sequential model's: {exc}") from None
        if config.get("class_name") != "Sequential":
            raise ModelFileRefused(f"only Sequential models are accepted, found {config.get('class_name')}")
        refused = sorted(set(kinds) - set(ACCEPTED_LAYERS))
        if refused:
            raise ModelFileRefused(
                f"the .keras model has layers {', '.join(refused)}: accepted are {', '.join(ACCEPTED_LAYERS)}"
            )
        weights = archive.read("model.weights.h5")
    try:
        with h5py.File(io.BytesIO(weights), "r") as f:
            audit_h5(f, len(weights), ACCEPTED_DTYPES + ("<i8",))
    except OSError as exc:
        raise ModelFileRefused(f"the .keras file's weights are not a readable HDF5 file: {exc}") from None
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds; any is a refusal
        raise ModelFileRefused(f"Keras cannot load it safely: {exc}") from None
    with tempfile.TemporaryDirectory() as tmp:
        h5_path = Path(tmp) / "model.h5"
        model.save(h5_path, include_optimizer=False)
        return h5_path.read_bytes()


def register(conn, model_dir: Path | str, schema: str = "fraud") -> tuple[str, bool]:
    """Insert the model; returns (version, newly_registered). Same version, same bytes: a no-op."""
    if not pattern("identifier").fullmatch(schema):
        raise RegistryError(f"schema must be a lowercase SQL identifier, got {schema!r}")
    h5, metadata = read_model_dir(model_dir)
    version = metadata["model_version"]
    with conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (f"{schema}.models",))
        if not cur.fetchone()[0]:
            raise RegistryError(
                f"no model registry {schema}.models in this database: a superuser must run "
                "`dbt run-operation install_fraud_scoring` first"
            )
        cur.execute(
            f"insert into {schema}.models (model_version, model_name, sha256, model_h5, metadata) "
            "values (%s, %s, %s, %s, %s) on conflict (model_version) do nothing returning model_version",
            (version, metadata["model_name"], metadata["sha256"], h5, json.dumps(metadata)),
        )
        if cur.fetchone():
            return version, True
        cur.execute(f"select sha256 from {schema}.models where model_version = %s", (version,))
        existing = cur.fetchone()[0]
        if existing != metadata["sha256"]:
            raise RegistryError(
                f"model version {version} is already registered with different bytes (sha256 {existing[:12]}...)"
            )
        return version, False
