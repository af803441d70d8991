"""Put a trained model into the database's registry (fraud.models)."""

from __future__ import annotations

import json
from pathlib import Path

from fraud_scoring.model_format import METADATA_FILE, MODEL_FILE, sha256_file
from warehouse.names import pattern


def __getattr__(name: str):
    """VERSION_RE and SCHEMA_RE: vars.fraud_names in dbt_project.yml, as the macros check them,
    read when first used rather than at import."""
    if name == "VERSION_RE":
        return pattern("model_version")
    if name == "SCHEMA_RE":
        return pattern("identifier")
    raise AttributeError(f"module 'warehouse.registry' has no attribute {name!r}")


class RegistryError(RuntimeError):
    pass


def read_model_dir(model_dir: Path | str) -> tuple[bytes, dict]:
    """The .h5 bytes and metadata, checked against each other and loadable by the scorer."""
    from fraud_scoring.scorer import ScoringError, load_numpy_model

    model_dir = Path(model_dir)
    h5_path, meta_path = model_dir / MODEL_FILE, model_dir / METADATA_FILE
    for path in (h5_path, meta_path):
        if not path.is_file():
            raise RegistryError(f"{path}: not found (train a model into {model_dir} first)")
    try:
        metadata = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise RegistryError(f"{meta_path}: not valid JSON: {exc}") from None
    for key in ("model_version", "model_name", "sha256", "features"):
        if key not in metadata:
            raise RegistryError(f"{meta_path}: missing key {key!r}")
    if not pattern("model_version").fullmatch(str(metadata["model_version"])):
        raise RegistryError(
            f"{meta_path}: model_version {metadata['model_version']!r} may hold only letters, digits, '.', '_', '-'"
        )
    if sha256_file(h5_path) != metadata["sha256"]:
        raise RegistryError(f"{h5_path}: sha256 differs from {meta_path}: the model file changed after training")
    h5 = h5_path.read_bytes()
    try:
        load_numpy_model(h5, len(metadata["features"]))
    except ScoringError as exc:
        raise RegistryError(f"{h5_path}: {exc}") from None
    return h5, metadata


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
