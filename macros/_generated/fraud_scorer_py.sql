{#- GENERATED from scoring/fraud_scorer.py by `python -m scoring.build_udf`: do not edit. -#}
{% macro _fraud_scorer_py() -%}
{% raw %}# Body of the PL/Python functions fraud.score_stack_{numpy,keras}, fraud.read_model_file,
# fraud.model_file_info and fraud.probe_packages, and an importable module.
#
# scoring/build_udf.py copies this file verbatim into the install macro, so it
# must import nothing from this project and keep module level to definitions:
# PL/Python runs the body on every call (defining functions costs microseconds
# per batch); the loaded model lives in SD, PL/Python's per-function dict.
#
# A stack is what SQL built with string_agg over one batch of transactions:
# per transaction, int8send(transaction_id) followed by float4send of each
# feature (both big-endian). SQL keeps the same batch's ids, aggregated in the
# same pass, beside the stack; the ids inside it name the transaction in errors.

import hashlib
import io
import json

import numpy as np

ID_DTYPE = np.dtype(">i8")
FEATURE_DTYPE = np.dtype(">f4")
PREDICT_CHUNK_ROWS = 8192  # bounds the activations: 8192 x 256 floats per layer
RUNTIMES = ("numpy", "keras")
ACTIVATIONS = ("sigmoid", "relu", "tanh", "linear")


class ScoringError(Exception):
    """A problem with the input or the model, worded for the person running dbt."""


# The probability bits returned for a row whose features cannot be scored (NULL, NaN,
# Infinity, or out of float4's range in the source): a NaN with a payload of its own,
# which SQL leaves out of fraud_scores (the row is in the quarantine instead). A model
# that computed NaN would give NaN's usual pattern, which fails fraud_scores' tests.
QUARANTINED_BITS = 0x7FBAD000
REASON_CODES = 3  # features named per flagged transaction


def unpack_stack(stack, n_rows, feature_names):
    """Split a stack into (ids int64, features float32 (n, k), rows with a non-finite feature or None).

    Rows with a non-finite feature are not an error: the database quarantines them
    (its packing turns NULL and values out of float4's range into NaN).
    """
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
    bad = None
    if not np.isfinite(features.sum(axis=1)).all():  # NaN and Infinity propagate through a sum
        bad = ~np.isfinite(features).all(axis=1)
        features[bad] = 0.0  # scored like any row, then replaced by QUARANTINED_BITS
    return ids, features, bad


def check_feature_order(model_features, sql_features):
    """The model's input order (its metadata) must be the order SQL packs the features in.

    A model trained on the same columns in another order would otherwise score
    silently wrong: the names are compared, position by position, ignoring case.
    """
    if sql_features is None:
        return
    sent = [name.strip() for name in str(sql_features).split(",")]
    expected = [str(name) for name in model_features]
    if [n.lower() for n in sent] != [n.lower() for n in expected]:
        diff = next(
            (i for i, (a, b) in enumerate(zip(expected, sent, strict=False)) if a.lower() != b.lower()),
            min(len(expected), len(sent)),
        )
        raise ScoringError(
            "the model expects its features in the order %s; SQL sends %s (they differ at position %d): "
            "the model would score the wrong columns" % (", ".join(expected), ", ".join(sent), diff + 1)
        )


class NumpyMLP:
    """A forward pass over the Dense layers of a Keras .h5, with h5py and NumPy only."""

    def __init__(self, layers, n_inputs):
        self.layers = layers  # [(kernel, bias, activation)]
        self.n_inputs = n_inputs

    def standardized(self, mean, scale):
        """The same network taking raw features: (x - mean) / scale folded into the first layer.

        x' @ W + b with x' = (x - mean) / scale equals x @ (W / scale) + (b - (mean / scale) @ W),
        so scoring skips two passes over every feature (equal to the unfolded pass within 1e-6).
        """
        kernel, bias, activation = self.layers[0]
        mean, scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        folded_kernel = (kernel.astype(np.float64) / scale[:, None]).astype(np.float32)
        folded_bias = (bias.astype(np.float64) - (mean / scale) @ kernel.astype(np.float64)).astype(np.float32)
        return NumpyMLP([(folded_kernel, folded_bias, activation), *self.layers[1:]], self.n_inputs)

    def predict(self, x, threads=1):
        """float32 probabilities of the rows of x, in chunks of PREDICT_CHUNK_ROWS on `threads` threads."""
        out = np.empty(len(x), dtype=np.float32)
        starts = range(0, len(x), PREDICT_CHUNK_ROWS)

        def chunk(start):
            h = x[start : start + PREDICT_CHUNK_ROWS]
            for kernel, bias, activation in self.layers:
                h = h @ kernel
                h += bias  # in place: one activation buffer per layer, not three
                _activate(h, activation)
            out[start : start + PREDICT_CHUNK_ROWS] = h[:, 0]

        limit_blas_threads()
        if threads <= 1 or len(starts) <= 1:
            for start in starts:
                chunk(start)
        else:
            _run_in_threads(chunk, starts, threads)
        return out

    def logit_gradient(self, x):
        """d(output's pre-activation, the log-odds for a sigmoid output)/dx for the rows of x (float64).

        Backpropagation through the Dense layers: for the few rows that get reason codes.
        """
        h = np.asarray(x, dtype=np.float64)
        outputs = []
        for kernel, bias, activation in self.layers:
            h = h @ kernel.astype(np.float64) + bias
            if len(outputs) < len(self.layers) - 1:
                _activate(h, activation)
            outputs.append(h)
        grad = np.ones((len(h), 1))
        for i in range(len(self.layers) - 1, -1, -1):
            kernel, _, activation = self.layers[i]
            if i < len(self.layers) - 1:
                grad = grad * _activation_slope(outputs[i], activation)
            grad = grad @ kernel.astype(np.float64).T
        return grad


def _block_signals():
    """In a scoring thread: leave every signal to the backend's own thread (cancel, terminate)."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


def _run_in_threads(fn, items, threads):
    """fn(item) for every item on `threads` threads; NumPy releases the GIL in its loops and BLAS calls.

    Our own threads, one chunk at a time each, rather than the BLAS library's: they
    also run the bias and sigmoid passes (single-threaded in NumPy), and they do not
    spin waiting for each other when the host is busy (OpenBLAS's two threads did:
    scoring 2M rows took 19.5 s with them against 8.6 s with one, on a busy host).
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads, initializer=_block_signals) as pool:
        for _ in pool.map(fn, items):  # re-raises a chunk's error here
            pass


_BLAS_LIMITED = []


def limit_blas_threads():
    """One BLAS thread per calling thread, once per process (threadpoolctl, where installed).

    Without it, each of our threads would start its own BLAS threads: cores x cores.
    Where threadpoolctl is missing, OPENBLAS_NUM_THREADS=1 in the server's
    environment does the same; the segment probe reports which applies.
    """
    if _BLAS_LIMITED:
        return _BLAS_LIMITED[0]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _BLAS_LIMITED.append(False)
        return False
    threadpool_limits(limits=1, user_api="blas")
    _BLAS_LIMITED.append(True)
    return True


def usable_cores():
    """The cores this process may run on."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def scoring_threads(threads):
    """Threads for one scoring call.

    threads > 0: that many. 0: every core this process may use (PostgreSQL: one
    backend scores). threads < 0: the host's cores shared by -threads processes
    scoring at once, at least one each (Greenplum: SQL passes minus the number of
    primary segments on the busiest host, so segments do not fight over cores).
    """
    if threads and threads > 0:
        return int(threads)
    if threads and threads < 0:
        return max(1, usable_cores() // -int(threads))
    return usable_cores()


def _activation_slope(a, activation):
    """d activation / d z, from the activation's output a."""
    if activation == "sigmoid":
        return a * (1.0 - a)
    if activation == "relu":
        return (a > 0).astype(a.dtype)
    if activation == "tanh":
        return 1.0 - a * a
    return np.ones_like(a)


def _activate(z, activation):
    """Apply an activation in place (float32 throughout)."""
    if activation == "sigmoid":  # 0.5 * (1 + tanh(z / 2)): stable for large |z|
        z *= 0.5
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5
    elif activation == "relu":
        np.maximum(z, 0.0, out=z)
    elif activation == "tanh":
        np.tanh(z, out=z)


# Reading a .h5 means parsing its bytes with HDF5, a C library: in the database
# it runs in a child process (the scoring functions take the model as an
# argument, so its bytes are input), where a crash only fails the query. This
# one source is exec'd here too, for in-process use (tests, the benchmark floor).
_H5_READER = r"""
def require_hdf5(h5_bytes):
    if not bytes(h5_bytes[:8]) == b"\x89HDF\r\n\x1a\n":
        raise ScoringError("model bytes are not an HDF5 file (a Keras .h5 model is expected)")


def _open_h5(h5_bytes):
    import h5py

    require_hdf5(h5_bytes)
    try:
        return h5py.File(io.BytesIO(bytes(h5_bytes)), "r")
    except OSError as exc:
        raise ScoringError("model bytes are a corrupt or truncated HDF5 file: %s" % exc) from None


def _layer_weights(group):
    found = {}

    def visit(name, obj):
        leaf = name.rsplit("/", 1)[-1].split(":")[0]
        if hasattr(obj, "shape") and leaf in ("kernel", "bias"):
            found[leaf] = np.asarray(obj, dtype=np.float32)

    group.visititems(visit)
    return found


def read_dense_layers(h5_bytes):
    # [(kernel, bias, activation)] of a Keras Sequential .h5 of Dense and Dropout layers
    with _open_h5(h5_bytes) as f:
        if "model_config" not in f.attrs or "model_weights" not in f:
            raise ScoringError("the HDF5 file is not a saved Keras model (no model_config / model_weights)")
        config = json.loads(f.attrs["model_config"])
        if config.get("class_name") != "Sequential":
            raise ScoringError("numpy runtime supports Sequential models only, found %s" % config.get("class_name"))
        layers = []
        for layer in config["config"]["layers"]:
            kind, cfg = layer["class_name"], layer["config"]
            if kind in ("InputLayer", "Dropout"):  # Dropout is the identity at inference
                continue
            if kind != "Dense":
                raise ScoringError(
                    "numpy runtime does not support layer %s (%s); use runtime 'keras'" % (cfg["name"], kind)
                )
            activation = cfg.get("activation", "linear")
            if activation not in ACTIVATIONS:
                raise ScoringError(
                    "numpy runtime does not support activation %r in layer %s; use runtime 'keras'"
                    % (activation, cfg["name"])
                )
            if cfg["name"] not in f["model_weights"]:
                raise ScoringError("the .h5 has no weights for layer %s" % cfg["name"])
            weights = _layer_weights(f["model_weights"][cfg["name"]])
            if "kernel" not in weights:
                raise ScoringError("the .h5 has no kernel for layer %s" % cfg["name"])
            bias = weights.get("bias", np.zeros(weights["kernel"].shape[1], dtype=np.float32))
            layers.append((weights["kernel"], bias, activation))
    return layers
"""

# The child: .h5 bytes on stdin; one JSON line (the layers, or an error) and the
# weights as little-endian float32 on stdout.
_H5_CHILD = r"""
import io, json, sys
import numpy as np
class ScoringError(Exception):
    pass
ACTIVATIONS = ACTIVATIONS_VALUE
exec(READER)
out = sys.stdout.buffer
try:
    layers = read_dense_layers(sys.stdin.buffer.read())
except ScoringError as exc:
    out.write(json.dumps({"error": str(exc)}).encode() + b"\n")
    sys.exit(0)
head = [{"activation": a, "kernel": list(k.shape), "bias": list(b.shape)} for k, b, a in layers]
out.write(json.dumps({"layers": head}).encode() + b"\n")
for kernel, bias, _ in layers:
    out.write(np.ascontiguousarray(kernel, dtype="<f4").tobytes() + np.ascontiguousarray(bias, dtype="<f4").tobytes())
"""


def _python():
    import sys

    return sys.executable or "python3"


def _child_died(what, returncode, stderr):
    """The error for a child process (a model reader, a keras worker) that died: the server did not."""
    how = "was killed by signal %d" % -returncode if returncode < 0 else "exited with status %d" % returncode
    tail = stderr[-800:].decode("utf-8", "replace").strip()
    return ScoringError(f"the {what} process {how} (the database server is unaffected): {tail}")


def _reader_namespace():
    import textwrap

    namespace = {"np": np, "io": io, "json": json, "ScoringError": ScoringError, "ACTIVATIONS": ACTIVATIONS}
    exec(textwrap.dedent(_H5_READER), namespace)  # dedent: PL/Python indents the body, strings too
    return namespace


def _read_layers_in_child(h5_bytes):
    import subprocess
    import textwrap

    script = textwrap.dedent(_H5_CHILD).replace("ACTIVATIONS_VALUE", repr(ACTIVATIONS))
    script = script.replace("exec(READER)", "exec(%r)" % textwrap.dedent(_H5_READER))
    try:
        done = subprocess.run([_python(), "-c", script], input=bytes(h5_bytes), capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise ScoringError("reading the model took over 300 s") from None
    if done.returncode:
        raise _child_died("model reader", done.returncode, done.stderr)
    head, _, blob = done.stdout.partition(b"\n")
    info = json.loads(head)
    if "error" in info:
        raise ScoringError(info["error"])
    layers, offset = [], 0
    for layer in info["layers"]:
        arrays = []
        for shape in (layer["kernel"], layer["bias"]):
            count = int(np.prod(shape))
            if offset + 4 * count > len(blob):
                raise ScoringError("the model reader returned truncated weights")
            values = np.frombuffer(blob, dtype="<f4", count=count, offset=offset)
            arrays.append(values.reshape(shape).astype(np.float32))
            offset += 4 * count
        layers.append((arrays[0], arrays[1], layer["activation"]))
    return layers


def load_numpy_model(h5_bytes, n_features, isolate=False):
    """Read a Keras Sequential .h5 (Dense and Dropout layers) into a NumpyMLP.

    isolate: parse the HDF5 in a child process (what the database does).
    """
    if isolate:
        layers = _read_layers_in_child(h5_bytes)
    else:
        layers = _reader_namespace()["read_dense_layers"](h5_bytes)
    if not layers:
        raise ScoringError("the model has no Dense layers")
    _check_shapes([kernel.shape for kernel, _, _ in layers], n_features)
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


# The keras runtime runs TensorFlow in a child process of the backend, never in
# the backend itself: importing TensorFlow inside a PostgreSQL backend that had
# just aggregated a 100k-row stack segfaulted in TensorFlow's own library
# initialiser and took the whole server down (seen here with TF 2.21). A crash
# in the child only fails the query. Protocol on the child's stdin/stdout:
# int64 length + .h5 bytes -> int64 input width (negative: -length of an error
# text that follows); then per batch int64 rows + float32 rows -> float32 probabilities.
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
    out.write(np.asarray(prob, dtype="<f4").reshape(-1).tobytes())
    out.flush()
""".replace("CHUNK_ROWS", str(PREDICT_CHUNK_ROWS))


class KerasModel:
    """The same model through Keras (TensorFlow), in a child process kept for the backend's life."""

    def __init__(self, h5_bytes, n_features, threads=0):
        import os
        import struct
        import subprocess
        import tempfile
        import textwrap

        _reader_namespace()["require_hdf5"](h5_bytes)  # a clear error before Keras sees them
        self._struct = struct
        self._stderr = tempfile.TemporaryFile()
        threads = str(scoring_threads(threads))
        self._proc = subprocess.Popen(
            # dedent: PL/Python indents every line of the function body, strings too
            [_python(), "-c", textwrap.dedent(_KERAS_WORKER)],
            # TensorFlow's thread pools: as many threads as the numpy runtime would use
            env={**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1"},
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
        return _child_died("keras worker", code, self._stderr.read())

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

    def predict(self, x, threads=1):
        x = np.ascontiguousarray(x, dtype="<f4")
        self._write(self._struct.pack("<q", len(x)) + x.tobytes())
        return np.frombuffer(self._read(4 * len(x)), dtype="<f4").astype(np.float32)


class Scorer:
    """A loaded model plus the input standardisation it was trained with."""

    def __init__(self, h5_bytes, metadata, runtime, isolate=False, threads=0):
        if runtime not in RUNTIMES:
            raise ScoringError("unknown runtime {!r}: choose one of {}".format(runtime, ", ".join(RUNTIMES)))
        self.features = list(metadata["features"])
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
        ids, x, bad = unpack_stack(stack, n_rows, self.features)
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


def load_scorer(h5_bytes, metadata, runtime, expected_sha256=None, isolate=False, threads=0):
    if expected_sha256 is not None and hashlib.sha256(bytes(h5_bytes)).hexdigest() != expected_sha256:
        raise ScoringError("model bytes do not match their registered sha256: the stored model is corrupt")
    return Scorer(h5_bytes, metadata, runtime, isolate, threads)


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


def read_model_file_in_database(plpy, SD, schema, path):
    """PL/Python entry point of {schema}.read_model_file: (model_h5, metadata, sha256) of a model file."""
    h5_bytes, metadata, sha = read_model_file(_model_dir(plpy, SD, schema), path)
    return [(h5_bytes, json.dumps(metadata), sha)]


def sql_array_text(values):
    """A NumPy vector as the text of a SQL array, which SQL casts with ::integer[], ::bigint[]...

    PL/Python would convert a returned list element by element (str() then the
    type's input function, each through the interpreter); one string built by
    Python's C list repr and parsed by array_in costed 1.7 s less at 2M rows.
    """
    return "{" + str(values.tolist())[1:-1] + "}"


def probability_bits_text(prob):
    """float32 probabilities as the text of an integer[] of their bit patterns.

    Both runtimes compute in float32. Integers print 7x faster than Python's
    shortest float repr (0.7 s less at 2M rows) and parse faster; SQL turns
    each pattern back into exactly that float32's value as a float8
    ({schema}.probability_from_bits), so not a bit is lost.
    """
    return sql_array_text(np.ascontiguousarray(prob, dtype=np.float32).view(np.int32))


def probability_from_bits(bits):
    """What {schema}.probability_from_bits computes in SQL, for tests: the float32 with these bits."""
    return float(np.array([bits], dtype=np.int32).view(np.float32)[0])


# Bytes a scored row holds at the peak of a call: the stack in PostgreSQL and its
# Python copy (2 x 120), ids and features and their standardised copy (8 + 2 x
# 112), the probabilities, the Python lists and the array text (~150).
BYTES_PER_ROW_SCORING = 650


def available_memory():
    """MemAvailable of this host in bytes (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def check_stack_memory(n_rows, available):
    """Refuse a stack whose scoring would take more than half the memory the host has free.

    An out-of-memory kill of a backend restarts the whole PostgreSQL server;
    a refused stack only fails the query, with what to change.
    """
    needed = n_rows * BYTES_PER_ROW_SCORING
    if available is not None and needed > available // 2:
        raise ScoringError(
            "a stack of %d rows needs about %d MB to score, more than half of the %d MB this server has "
            "available: lower var fraud_batch_rows" % (n_rows, needed >> 20, available >> 20)
        )


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
):
    """PL/Python entry point of score_stack_{runtime}: the stack's probabilities, in stack order, as the
    text of an integer[] of their float32 bit patterns (see probability_bits_text).

    A pure function of its arguments: no SPI, no files. That is what lets the
    numpy runtime run in PostgreSQL parallel workers (where plpy.execute fails:
    no subtransactions in parallel mode) and on Greenplum segments; SQL passes
    the model in from the registry (an InitPlan, evaluated once per query).
    The bytes are hashed on every call (0.3 ms for the 2017 network, per
    stack), so the per-backend cache, keyed by that hash, is never stale.
    threads: how many threads score (0: every core of this host; below 0: the
    host's cores shared by -threads segments, see scoring_threads).
    sql_features: the names of the features SQL packed, in order, comma-separated;
    the model's metadata must list the same in the same order.
    Rows with a non-finite feature get QUARANTINED_BITS instead of a probability.
    Returns [probability bits text, reason codes JSON or None] (see reasons_json_text).
    """
    if stack is None or n_rows is None:
        raise ScoringError("a NULL stack or row count: stacks come from string_agg over at least one row")
    check_stack_memory(n_rows, available_memory())
    if model_h5 is None or model_metadata is None or model_sha256 is None:
        raise ScoringError("no model: the selected model is not in the registry (deleted after dbt compiled the run?)")
    sha = hashlib.sha256(model_h5).hexdigest()
    if sha != model_sha256:
        raise ScoringError("model bytes do not match their registered sha256: the stored model is corrupt")
    key = (runtime, sha, threads, sql_features)
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
        SD["model"] = (key, load_scorer(model_h5, metadata, runtime, isolate=True, threads=threads))
    ids, prob, bad, reasons = SD["model"][1].score(stack, n_rows, reason_threshold)
    bits = np.ascontiguousarray(prob, dtype=np.float32).view(np.int32)
    if bad is not None:
        bits[bad] = QUARANTINED_BITS
    return [sql_array_text(bits), reasons_json_text(ids, reasons)]


def reasons_json_text(ids, reasons):
    """The reason codes of a stack's flagged rows as one JSON object keyed by transaction id:
    {"<id>": [{"feature": name, "contribution": value}, ...]}, most contributing first; None
    (SQL NULL) when no row has any.

    One small document per stack, parsed once per stack: SQL looks a row up only when its
    probability reaches the reason threshold, so the other rows cost one integer comparison
    (an array of one element per row, mostly NULL, cost 20 ms per 100,000 rows to parse and unnest).
    """
    if not reasons:
        return None
    return json.dumps(
        {
            str(int(ids[row])): [{"feature": name, "contribution": value} for name, value in codes]
            for row, codes in reasons.items()
        }  # fmt: skip
    )


PROBED_PACKAGES = ("numpy", "h5py", "keras", "tensorflow")


def blas_libraries():
    """The BLAS libraries loaded in this process (numpy's), as threadpoolctl sees them.

    None without threadpoolctl; [] when numpy's BLAS is none it knows (OpenBLAS,
    MKL, BLIS, FlexiBLAS): typically the reference BLAS, which scored 5x slower.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [
        {"library": info.get("internal_api"), "version": info.get("version"), "threads": info.get("num_threads")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def probe_packages():
    """PL/Python entry point of {schema}.probe_packages: this host's Python, packages, cores and BLAS, as JSON.

    Package versions come from package metadata: nothing but numpy (already
    imported, and safe in a backend) is imported (importing TensorFlow inside a
    backend crashed the server here).
    """
    import platform
    import sys
    from importlib import metadata

    owners = metadata.packages_distributions()  # import name -> distributions (tensorflow -> tensorflow-cpu)
    found = {}
    for name in PROBED_PACKAGES:
        found[name] = None
        for dist in owners.get(name, [name]):
            try:
                found[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                pass
    return json.dumps(
        {
            "python": platform.python_version(),
            "executable": sys.executable,
            "host": platform.node(),
            "packages": found,
            "cores": usable_cores(),
            "blas": blas_libraries(),
        }
    )
{% endraw %}
{%- endmacro %}
