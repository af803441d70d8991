"""A loaded model (numpy or keras runtime) plus the input standardisation it was trained with."""

import hashlib

import numpy as np

from fraud_scoring import RUNTIMES
from fraud_scoring.errors import ScoringError  # noqa: F401 (re-exported: callers load and catch from one place)
from fraud_scoring.h5_reader import read_dense_layers, read_dense_layers_in_child
from fraud_scoring.keras_worker import KerasModel
from fraud_scoring.network import NumpyMLP
from fraud_scoring.stack import stack_contract, unpack_stack
from fraud_scoring.threads import scoring_threads

REASON_CODES = 3  # features named per flagged transaction


def load_numpy_model(h5_bytes, n_features, isolate=False):
    """Read a Keras Sequential .h5 (Dense and Dropout layers) into a NumpyMLP.

    isolate: parse the HDF5 in a child process (what the database does).
    """
    layers = read_dense_layers_in_child(h5_bytes) if isolate else read_dense_layers(h5_bytes)
    if not layers:
        raise ScoringError("the model has no Dense layers")
    check_shapes([kernel.shape for kernel, _, _ in layers], n_features)
    return NumpyMLP(layers, n_features)


def check_shapes(kernel_shapes, n_features):
    if kernel_shapes[0][0] != n_features:
        raise ScoringError(
            "the model expects %d input features, scoring supplies %d" % (kernel_shapes[0][0], n_features)
        )
    for (_, out_units), (in_units, _) in zip(kernel_shapes, kernel_shapes[1:], strict=False):
        if out_units != in_units:
            raise ScoringError(
                "inconsistent layer shapes in the model: %d outputs feed %d inputs" % (out_units, in_units)
            )
    if kernel_shapes[-1][1] != 1:
        raise ScoringError("the model has %d outputs, a single fraud probability is expected" % kernel_shapes[-1][1])


class Scorer:
    """A loaded model plus the input standardisation it was trained with.

    contract: the stack contract (a StackContract or its mapping; None: the defaults)
    whose widths the stacks are read with; the features are the model's.
    """

    def __init__(self, h5_bytes, metadata, runtime, isolate=False, threads=0, contract=None):
        if runtime not in RUNTIMES:
            raise ScoringError("unknown runtime {!r}: choose one of {}".format(runtime, ", ".join(RUNTIMES)))
        self.features = list(metadata["features"])
        self.contract = stack_contract(contract, self.features)
        self.threads = scoring_threads(threads)
        scaler = metadata.get("scaler")
        mean = np.asarray(scaler["mean"], dtype=np.float32) if scaler else None
        scale = np.asarray(scaler["scale"], dtype=np.float32) if scaler else None
        n = len(self.features)
        # reason codes measure each feature against the training mean (0 after standardisation)
        self.baseline = mean.astype(np.float64) if scaler else np.zeros(n)
        if runtime == "numpy":
            model = load_numpy_model(h5_bytes, n, isolate)
            self.model = model.standardized(mean, scale) if scaler else model
            self.mean = self.scale = None  # folded into the first layer
        else:
            self.model = KerasModel(h5_bytes, n, self.threads)
            self.mean, self.scale = mean, scale

    def predict(self, x):
        """float32 probabilities of raw (unstandardised) float32 feature rows."""
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        return self.model.predict(x, self.threads)

    def score(self, stack, n_rows, reason_threshold=None):
        """(ids, float32 probabilities, rows to quarantine or None, reason codes) of a stack.

        reason codes: {row: [(feature, contribution)] * up to 3} for the rows whose probability is
        at least reason_threshold (numpy runtime only; None: none).
        """
        ids, x, bad = unpack_stack(stack, n_rows, self.contract)
        prob = self.predict(x)
        reasons = {}
        if reason_threshold is not None and isinstance(self.model, NumpyMLP):
            flagged = prob >= reason_threshold
            if bad is not None:
                flagged &= ~bad
            rows = np.flatnonzero(flagged)
            if len(rows):
                reasons = dict(zip(rows.tolist(), self.reason_codes(x[rows]), strict=True))
        return ids, prob, bad, reasons

    def reason_codes(self, x, top=REASON_CODES):
        """Per row, the `top` features that raised its log-odds most: gradient x input.

        contribution_j = d(log-odds)/d(x_j) * (x_j - training mean_j), the first-order share
        of feature j in the log-odds' distance from an average transaction's. Only features
        with a positive contribution are listed (those that pushed the probability up).
        """
        contributions = self.model.logit_gradient(x) * (np.asarray(x, dtype=np.float64) - self.baseline)
        order = np.argsort(-contributions, axis=1)[:, :top]
        codes = []
        for row, columns in zip(contributions, order, strict=True):
            codes.append([(self.features[j], round(float(row[j]), 4)) for j in columns if row[j] > 0])
        return codes


def load_scorer(h5_bytes, metadata, runtime, expected_sha256=None, isolate=False, threads=0, contract=None):
    if expected_sha256 is not None and hashlib.sha256(bytes(h5_bytes)).hexdigest() != expected_sha256:
        raise ScoringError("model bytes do not match their registered sha256: the stored model is corrupt")
    return Scorer(h5_bytes, metadata, runtime, isolate, threads, contract)
