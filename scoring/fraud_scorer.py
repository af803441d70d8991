# Body of the PL/Python functions fraud.score_stack_{numpy,keras} and fraud.model_file_info,
# and an importable module.
#
# scoring/build_udf.py copies this file verbatim into the install macro, so it
# must import nothing from this project and keep module level to definitions:
# PL/Python runs the body on every call (defining functions costs microseconds
# per batch); the loaded model lives in SD, PL/Python's per-function dict.
#
# A stack is what SQL built with string_agg over one (segment, batch) group:
# per transaction, int8send(transaction_id) followed by float4send of each
# feature (both big-endian). The ids travel inside the stack, so scores can
# never be matched to the wrong transaction by position.

import hashlib
import io
import json

import numpy as np

ID_DTYPE = np.dtype(">i8")
FEATURE_DTYPE = np.dtype(">f4")
PREDICT_CHUNK_ROWS = 8192  # bounds the activations: 8192 x 256 floats per layer
ENGINES = ("numpy", "keras")
_ACTIVATIONS = {
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # stable for large |z|
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "linear": lambda z: z,
}


class ScoringError(Exception):
    """A problem with the input or the model, worded for the person running dbt."""


def unpack_stack(stack, n_rows, feature_names):
    """Split a stack into (ids int64, features float32 (n, k)), checking its shape and values."""
    n_features = len(feature_names)
    row_bytes = ID_DTYPE.itemsize + FEATURE_DTYPE.itemsize * n_features
    stack = bytes(stack)
    if n_rows is not None and len(stack) != n_rows * row_bytes:
        raise ScoringError(
            "stack of %d rows has %d bytes, expected %d (%d features of 4 bytes plus an 8-byte id per row): "
            "a feature vector of the wrong length" % (n_rows, len(stack), n_rows * row_bytes, n_features)
        )
    if len(stack) % row_bytes:
        raise ScoringError("stack length %d is not a multiple of the %d-byte row" % (len(stack), row_bytes))
    record = np.dtype([("id", ID_DTYPE), ("x", FEATURE_DTYPE, (n_features,))])
    rows = np.frombuffer(stack, dtype=record)
    ids = rows["id"].astype(np.int64)
    features = rows["x"].astype(np.float32)
    finite = np.isfinite(features)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        first = bad_rows[0]
        column = feature_names[int(np.flatnonzero(~finite[first])[0])]
        raise ScoringError(
            "transaction %d: feature %s is NULL, NaN or Infinity (%d such rows in this batch); "
            "fix or exclude these rows before scoring" % (ids[first], column, len(bad_rows))
        )
    return ids, features


class NumpyMLP:
    """A forward pass over the Dense layers of a Keras .h5, with h5py and NumPy only."""

    def __init__(self, layers, n_inputs):
        self.layers = layers  # [(kernel, bias, activation)]
        self.n_inputs = n_inputs

    def predict(self, x):
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), PREDICT_CHUNK_ROWS):
            h = x[start : start + PREDICT_CHUNK_ROWS]
            for kernel, bias, activation in self.layers:
                h = _ACTIVATIONS[activation](h @ kernel + bias)
            out[start : start + PREDICT_CHUNK_ROWS] = h[:, 0]
        return out


def _open_h5(h5_bytes):
    import h5py

    if not bytes(h5_bytes[:8]) == b"\x89HDF\r\n\x1a\n":
        raise ScoringError("model bytes are not an HDF5 file (a Keras .h5 model is expected)")
    try:
        return h5py.File(io.BytesIO(bytes(h5_bytes)), "r")
    except OSError as exc:
        raise ScoringError(f"model bytes are a corrupt or truncated HDF5 file: {exc}") from None


def _layer_weights(group):
    found = {}

    def visit(name, obj):
        leaf = name.rsplit("/", 1)[-1].split(":")[0]
        if hasattr(obj, "shape") and leaf in ("kernel", "bias"):
            found[leaf] = np.asarray(obj, dtype=np.float32)

    group.visititems(visit)
    return found


def load_numpy_model(h5_bytes, n_features):
    """Read a Keras Sequential .h5 (Dense and Dropout layers) into a NumpyMLP."""
    with _open_h5(h5_bytes) as f:
        if "model_config" not in f.attrs or "model_weights" not in f:
            raise ScoringError("the HDF5 file is not a saved Keras model (no model_config / model_weights)")
        config = json.loads(f.attrs["model_config"])
        if config.get("class_name") != "Sequential":
            raise ScoringError(
                "numpy engine supports Sequential models only, found {}".format(config.get("class_name"))
            )
        layers = []
        for layer in config["config"]["layers"]:
            kind, cfg = layer["class_name"], layer["config"]
            if kind in ("InputLayer", "Dropout"):  # Dropout is the identity at inference
                continue
            if kind != "Dense":
                raise ScoringError(
                    "numpy engine does not support layer {} ({}); use engine 'keras'".format(cfg["name"], kind)
                )
            activation = cfg.get("activation", "linear")
            if activation not in _ACTIVATIONS:
                raise ScoringError(
                    "numpy engine does not support activation {!r} in layer {}; use engine 'keras'".format(
                        activation, cfg["name"]
                    )
                )
            if cfg["name"] not in f["model_weights"]:
                raise ScoringError("the .h5 has no weights for layer {}".format(cfg["name"]))
            weights = _layer_weights(f["model_weights"][cfg["name"]])
            if "kernel" not in weights:
                raise ScoringError("the .h5 has no kernel for layer {}".format(cfg["name"]))
            bias = weights.get("bias", np.zeros(weights["kernel"].shape[1], dtype=np.float32))
            layers.append((weights["kernel"], bias, activation))
    if not layers:
        raise ScoringError("the model has no Dense layers")
    _check_shapes([k.shape for k, _, _ in layers], n_features)
    return NumpyMLP(layers, n_features)


def _check_shapes(kernel_shapes, n_features):
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


# The keras engine runs TensorFlow in a child process of the backend, never in
# the backend itself: importing TensorFlow inside a PostgreSQL backend that had
# just aggregated a 100k-row stack segfaulted in TensorFlow's own library
# initialiser and took the whole server down (seen here with TF 2.21). A crash
# in the child only fails the query. Protocol on the child's stdin/stdout:
# int64 length + .h5 bytes -> int64 input width (negative: -length of an error
# text that follows); then per batch int64 rows + float32 rows -> float64 probabilities.
_KERAS_WORKER = r"""
import os, struct, sys, tempfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
src, out = sys.stdin.buffer, sys.stdout.buffer
def reply_error(text):
    data = text.encode("utf-8", "replace")
    out.write(struct.pack("<q", -len(data)) + data)
    out.flush()
(size,) = struct.unpack("<q", src.read(8))
fd, path = tempfile.mkstemp(suffix=".h5")
try:
    os.write(fd, src.read(size))
    os.close(fd)
    import keras
    model = keras.models.load_model(path, compile=False)
except Exception as exc:
    reply_error("Keras cannot load the model: %s" % exc)
    sys.exit(0)
finally:
    os.unlink(path)
width = int(model.input_shape[-1])
out.write(struct.pack("<q", width))
out.flush()
while True:
    head = src.read(8)
    if len(head) < 8:
        break
    (rows,) = struct.unpack("<q", head)
    x = np.frombuffer(src.read(rows * width * 4), dtype="<f4").reshape(rows, width)
    prob = model.predict(x, batch_size=CHUNK_ROWS, verbose=0)
    out.write(np.asarray(prob, dtype="<f8").reshape(-1).tobytes())
    out.flush()
""".replace("CHUNK_ROWS", str(PREDICT_CHUNK_ROWS))


class KerasModel:
    """The same model through Keras (TensorFlow), in a child process kept for the backend's life."""

    def __init__(self, h5_bytes, n_features):
        import struct
        import subprocess
        import sys
        import tempfile
        import textwrap

        _open_h5(h5_bytes).close()  # a clear error for non-HDF5 bytes before Keras sees them
        self._struct = struct
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            # dedent: PL/Python indents every line of the function body, strings too
            [sys.executable or "python3", "-c", textwrap.dedent(_KERAS_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        h5_bytes = bytes(h5_bytes)
        self._write(struct.pack("<q", len(h5_bytes)) + h5_bytes)
        (width,) = struct.unpack("<q", self._read(8))
        if width < 0:
            raise ScoringError(self._read(-width).decode("utf-8", "replace"))
        if width != n_features:
            raise ScoringError("the model expects %d input features, scoring supplies %d" % (width, n_features))

    def _died(self):
        code = self._proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-800:].decode("utf-8", "replace").strip()
        how = "killed by signal %d" % -code if code < 0 else "exited with status %d" % code
        return ScoringError(f"the keras worker process {how} (the database server is unaffected): {tail}")

    def _write(self, data):
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def _read(self, size):
        data = self._proc.stdout.read(size)
        if len(data) != size:
            raise self._died()
        return data

    def predict(self, x):
        x = np.ascontiguousarray(x, dtype="<f4")
        self._write(self._struct.pack("<q", len(x)) + x.tobytes())
        return np.frombuffer(self._read(8 * len(x)), dtype="<f8").astype(np.float64)


class Scorer:
    """A loaded model plus the input standardisation it was trained with."""

    def __init__(self, h5_bytes, metadata, engine):
        if engine not in ENGINES:
            raise ScoringError("unknown engine {!r}: choose one of {}".format(engine, ", ".join(ENGINES)))
        self.features = list(metadata["features"])
        scaler = metadata.get("scaler")
        if scaler:
            self.mean = np.asarray(scaler["mean"], dtype=np.float32)
            self.scale = np.asarray(scaler["scale"], dtype=np.float32)
        else:
            self.mean, self.scale = None, None
        n = len(self.features)
        self.model = load_numpy_model(h5_bytes, n) if engine == "numpy" else KerasModel(h5_bytes, n)

    def score(self, stack, n_rows):
        ids, x = unpack_stack(stack, n_rows, self.features)
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        return ids, self.model.predict(x)


def load_scorer(h5_bytes, metadata, engine, expected_sha256=None):
    if expected_sha256 is not None and hashlib.sha256(bytes(h5_bytes)).hexdigest() != expected_sha256:
        raise ScoringError("model bytes do not match their registered sha256: the stored model is corrupt")
    return Scorer(h5_bytes, metadata, engine)


FILE_PREFIX = "file:"


def resolve_model_path(model_dir, path):
    """The real path of a model file, which must lie inside model_dir (set by a superuser).

    Without this a caller could make the server read any file it can read
    (/etc/passwd, the cluster's own files) through the scorer.
    """
    import os

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
    import os

    full = resolve_model_path(model_dir, path)
    meta_path = os.path.join(os.path.dirname(full), "metadata.json")
    try:
        with open(full, "rb") as f:
            h5_bytes = f.read()
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
    """PL/Python entry point of {schema}.model_file_info: what dbt needs to know at compile time."""
    _, metadata, sha = read_model_file(_model_dir(plpy, SD, schema), path)
    return [(metadata["model_version"], sha, float(metadata.get("threshold", 0.5)))]


def score_stack_in_database(plpy, SD, schema, stack, n_rows, model_ref, engine):
    """PL/Python entry point: returns {transaction_ids, probabilities} for one stack.

    model_ref is a registered model version, or "file:<path>" inside the model
    directory a superuser allowed. The model is cached per backend with its
    sha256, which is re-read on every call (one indexed lookup, or one small file
    read, per stack), so a model replaced under the same name is never scored stale.
    """
    if model_ref.startswith(FILE_PREFIX):
        h5_bytes, metadata, sha = read_model_file(_model_dir(plpy, SD, schema), model_ref[len(FILE_PREFIX) :])

        def fetch():
            return h5_bytes, metadata, sha
    else:
        registry = f"{schema}.models"
        found = plpy.execute(_plan(plpy, SD, f"select sha256 from {registry} where model_version = $1"), [model_ref])
        if not found:
            raise ScoringError(f"model version {model_ref!r} is not registered in {registry}")
        sha = found[0]["sha256"]

        def fetch():
            sql = f"select sha256, model_h5, metadata::text as metadata from {registry} where model_version = $1"
            row = plpy.execute(_plan(plpy, SD, sql), [model_ref])[0]
            return row["model_h5"], json.loads(row["metadata"]), row["sha256"]

    key = (model_ref, engine)
    cached = SD.setdefault("models", {}).get(key)
    if cached is None or cached[0] != sha:
        h5_bytes, metadata, sha = fetch()
        SD["models"] = {key: (sha, load_scorer(h5_bytes, metadata, engine, sha))}  # one model per backend
        cached = SD["models"][key]
    ids, prob = cached[1].score(stack, n_rows)
    return {"transaction_ids": ids.tolist(), "probabilities": prob.tolist()}
