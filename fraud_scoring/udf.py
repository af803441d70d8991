"""The PL/Python entry points: each function's body (macros/install/fraud_scoring_ddl.sql) imports one
of these and calls it, turning a ScoringError into plpy.error.

PL/Python runs a body on every call: a body of an import (a dictionary lookup once the
module is loaded) and a call costs nothing per batch. The loaded model lives in SD,
PL/Python's per-function dictionary, for the backend's life.
"""

import hashlib
import json

from fraud_scoring.errors import ChildInterrupted, ScoringError
from fraud_scoring.memory import available_memory, check_stack_memory
from fraud_scoring.model_audit import ModelFileRefused, checked_threshold
from fraud_scoring.model_files import read_model_file
from fraud_scoring.probe import probe_packages
from fraud_scoring.scorer import load_scorer
from fraud_scoring.stack import check_feature_order, probability_bits, reasons_json_text, sql_array_text
from fraud_scoring.version import package_info

__all__ = [
    "ScoringError",
    "model_file_info",
    "probe_packages",
    "model_file_contents",
    "score_stack",
    "score_stack_or_warn",
    "scoring_package",
]


def score_stack(
    SD,
    stack,
    n_rows,
    model_h5,
    model_metadata,
    model_sha256,
    runtime,
    threads=0,
    sql_features=None,
    reason_threshold=None,
    contract=None,
):
    """Entry point of score_stack_{runtime}: the stack's probabilities, in stack order, as the
    text of an integer[] of their float32 bit patterns (see stack.probability_bits_text).

    A pure function of its arguments: no SPI, no files. That is what lets the
    numpy runtime run in PostgreSQL parallel workers (where plpy.execute fails:
    no subtransactions in parallel mode) and on Greenplum segments; the entry
    point {schema}.score_stack (SECURITY DEFINER) reads the model from the registry
    and passes it in: no caller hands the scorer bytes of its own.
    The bytes are hashed on every call (0.3 ms for the 2017 network, per
    stack), so the per-backend cache, keyed by that hash, is never stale.
    threads: how many threads score (0: every core of this host; below 0: the
    host's cores shared by -threads segments, see threads.scoring_threads).
    sql_features: the names of the features SQL packed, in order, comma-separated;
    the model's metadata must list the same in the same order.
    contract: the stack contract as the install rendered it (vars.fraud_stack; None:
    the defaults): the stack's widths and the quarantined mark.
    Rows with a non-finite feature get the contract's quarantined bits instead of a probability.
    Returns [probability bits text, reason codes JSON or None] (see stack.reasons_json_text).
    """
    if stack is None or n_rows is None:
        raise ScoringError("a NULL stack or row count: stacks come from string_agg over at least one row")
    if model_h5 is None or model_metadata is None or model_sha256 is None:
        raise ScoringError("no model: the selected model is not in the registry (deleted after dbt compiled the run?)")
    check_stack_memory(n_rows, available_memory(), len(model_h5))
    sha = hashlib.sha256(model_h5).hexdigest()
    if sha != model_sha256:
        raise ScoringError("model bytes do not match their registered sha256: the stored model is corrupt")
    key = (runtime, sha, threads, sql_features, repr(contract))
    cached = SD.get("model")
    if cached is None or cached[0] != key:
        SD.pop("model", None)  # one model per backend: drop the old one (and its keras worker) first
        try:
            metadata = json.loads(model_metadata)
        except ValueError as exc:
            raise ScoringError(f"the model's metadata is not valid JSON: {exc}") from None
        if not isinstance(metadata, dict) or not isinstance(metadata.get("features"), list):
            raise ScoringError("the model's metadata has no list of features")
        check_feature_order(metadata["features"], sql_features)
        scorer = load_scorer(model_h5, metadata, runtime, isolate=True, threads=threads, contract=contract)
        SD["model"] = (key, scorer)
    scorer = SD["model"][1]
    ids, prob, bad, reasons = scorer.score(stack, n_rows, reason_threshold)
    bits = probability_bits(prob, bad, scorer.contract.quarantined_bits)
    return [sql_array_text(bits), reasons_json_text(ids, reasons)]


def score_stack_or_warn(plpy, SD, model_label, fail_on_error, *args, **kwargs):
    """score_stack for {schema}.score_stack_{runtime}: a ScoringError is raised (fail_on_error) or
    becomes a WARNING naming the model and NULL, so one broken challenger does not stop the champion.

    Only ScoringError is caught: a query cancel or any other error of the server is never swallowed,
    nor is a child killed by the cancel's signal (ChildInterrupted) turned into a NULL.
    """
    try:
        return score_stack(SD, *args, **kwargs)
    except ChildInterrupted as exc:
        # A cancel (or terminate) of this backend reaches its children too (PostgreSQL signals the
        # process group). Emitting a message checks for interrupts: PostgreSQL raises the pending
        # cancel there, and the query fails as cancelled, never as scored-NULL or as our error.
        plpy.warning("fraud scoring: model %s: %s" % (model_label, exc))
        raise
    except ScoringError as exc:
        if fail_on_error or fail_on_error is None:
            raise
        plpy.warning("fraud scoring: model %s not scored: %s" % (model_label, exc))
        return None


def _plan(plpy, SD, sql):
    plans = SD.setdefault("plans", {})
    if sql not in plans:
        plans[sql] = plpy.prepare(sql, ["text"])
    return plans[sql]


def _model_dir(plpy, SD, schema):
    rows = plpy.execute(
        _plan(plpy, SD, f"select version from {schema}.installation where component = $1"), ["model_dir"]
    )
    return rows[0]["version"] if rows else ""


def model_file_info(plpy, SD, schema, path):
    """Entry point of {schema}.model_file_info: what dbt needs to know at compile time."""
    _, metadata, sha = read_model_file(_model_dir(plpy, SD, schema), path)
    try:
        threshold = checked_threshold(metadata.get("threshold", 0.5), f"the threshold in the metadata of {path!r}")
    except ModelFileRefused as exc:
        raise ScoringError(str(exc)) from None
    return [(metadata["model_version"], sha, threshold)]


def model_file_contents(model_dir, path):
    """Entry point of {schema}.model_file_contents: (model_h5, metadata, sha256) of a model file inside
    model_dir. No SPI (score_stack reads model_dir and calls it, in parallel workers too); only the
    installer may call it, so model_dir is always the one a superuser set."""
    h5_bytes, metadata, sha = read_model_file(model_dir or "", path)
    return [(h5_bytes, json.dumps(metadata), sha)]


def scoring_package():
    """Entry point of {schema}.scoring_package: this server's fraud_scoring (name, version, sha256, path), as JSON.

    What the install records in {schema}.installation, and what each segment's probe is compared with.
    """
    return json.dumps(package_info())


def feature_bin_counts(stack, ids, days, reference):
    """Entry point of {schema}.feature_bin_counts: a stack's values counted in a model's feature
    reference bins, per day (fraud_scoring.feature_bins.stack_counts; fraud_feature_bins calls it).
    A pure function of its arguments: no SPI, no files."""
    from fraud_scoring.feature_bins import stack_counts

    try:
        return stack_counts(stack, ids or b"", days or b"", json.loads(reference))
    except (ValueError, KeyError, TypeError) as exc:
        raise ScoringError(f"feature_bin_counts: {exc}") from None
