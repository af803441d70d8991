"""Reading the Dense layers of a Keras .h5 with h5py, and the child that does it for the database.

Reading a .h5 means parsing its bytes with HDF5, a C library: in the database it
runs in a child process under memory and CPU-time limits (children.limit_resources),
where a crash or a runaway only fails the query; tests, registration and the
benchmark floor may read in-process (read_dense_layers). Either way the file is
audited first (model_audit.audit_h5): plain float32 data inside the file, nothing
that points elsewhere or inflates, before any dataset is read.

The child, `python -m fraud_scoring.h5_reader`: .h5 bytes on stdin; one JSON line
(the layers, or an error) and the weights as little-endian float32 on stdout.
"""

import io
import json
import sys

import numpy as np

from fraud_scoring import children
from fraud_scoring.errors import ScoringError
from fraud_scoring.model_audit import (
    ACCEPTED_LAYERS,
    MAX_DIMENSION,
    ModelFileRefused,
    audit_h5,
    check_model_size,
)
from fraud_scoring.network import ACTIVATIONS

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
CHILD_ARGS = children.module_args("fraud_scoring.h5_reader")
CHILD_TIMEOUT_S = 300
CHILD_MEMORY_BYTES = 1 << 30  # address space: Python, NumPy, h5py and at most MAX_WEIGHT_BYTES of weights
CHILD_CPU_S = 60


def require_hdf5(h5_bytes):
    if not bytes(h5_bytes[:8]) == HDF5_SIGNATURE:
        raise ScoringError("model bytes are not an HDF5 file (a Keras .h5 model is expected)")


def _open_h5(h5_bytes):
    """The file, opened from memory and audited (model_audit): refused before any dataset is read."""
    import h5py

    require_hdf5(h5_bytes)
    try:
        check_model_size(len(h5_bytes))
    except ModelFileRefused as exc:
        raise ScoringError(str(exc)) from None
    try:
        f = h5py.File(io.BytesIO(bytes(h5_bytes)), "r")
    except OSError as exc:
        raise ScoringError("model bytes are a corrupt or truncated HDF5 file: %s" % exc) from None
    try:
        audit_h5(f, len(h5_bytes))
    except ModelFileRefused as exc:
        f.close()
        raise ScoringError(str(exc)) from None
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        f.close()
        raise ScoringError("model bytes are a corrupt HDF5 file: %s" % exc) from None
    return f


def audit_model_bytes(h5_bytes):
    """Refuse bytes outside the accepted subset (model_audit) without reading any weights (in this process)."""
    _open_h5(h5_bytes).close()


def _layer_weights(group):
    found = {}

    def visit(name, obj):
        leaf = name.rsplit("/", 1)[-1].split(":")[0]
        if hasattr(obj, "shape") and leaf in ("kernel", "bias"):
            found[leaf] = np.asarray(obj, dtype=np.float32)

    group.visititems(visit)
    return found


def read_dense_layers(h5_bytes):
    """[(kernel, bias, activation)] of a Keras Sequential .h5 of Dense and Dropout layers (in this process)."""
    with _open_h5(h5_bytes) as f:
        if "model_config" not in f.attrs or "model_weights" not in f:
            raise ScoringError("the HDF5 file is not a saved Keras model (no model_config / model_weights)")
        try:
            config = json.loads(f.attrs["model_config"])
        except (ValueError, TypeError) as exc:
            raise ScoringError("the model's model_config is not valid JSON: %s" % exc) from None
        if config.get("class_name") != "Sequential":
            raise ScoringError("numpy runtime supports Sequential models only, found %s" % config.get("class_name"))
        layers = []
        for layer in config["config"]["layers"]:
            kind, cfg = layer["class_name"], layer["config"]
            if kind in ("InputLayer", "Dropout"):  # Dropout is the identity at inference
                continue
            if kind != "Dense":
                raise ScoringError(
                    "numpy runtime does not support layer %s (%s; accepted: %s); use runtime 'keras'"
                    % (cfg["name"], kind, ", ".join(ACCEPTED_LAYERS))
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
            kernel = weights["kernel"]
            units = cfg.get("units")
            if kernel.ndim != 2 or (units is not None and kernel.shape[1] != units):
                raise ScoringError(
                    "the kernel of layer %s has shape %s, not (inputs, %s units)" % (cfg["name"], kernel.shape, units)
                )
            bias = weights.get("bias", np.zeros(kernel.shape[1], dtype=np.float32))
            if bias.shape != (kernel.shape[1],):
                raise ScoringError(
                    "the bias of layer %s has shape %s, not (%d,)" % (cfg["name"], bias.shape, kernel.shape[1])
                )
            layers.append((kernel, bias, activation))
    return layers


def read_dense_layers_in_child(h5_bytes):
    """read_dense_layers, run by a child process: what the database does."""
    import subprocess

    try:  # a wait that a cancel or terminate ends (children.run)
        done = children.run(
            children.command(CHILD_ARGS),
            bytes(h5_bytes),
            CHILD_TIMEOUT_S,
            children.child_env(**children.limits_env(CHILD_MEMORY_BYTES, CHILD_CPU_S)),
        )
    except subprocess.TimeoutExpired:
        raise ScoringError("reading the model took over %d s" % CHILD_TIMEOUT_S) from None
    if done.returncode:
        raise children.child_died("model reader", done.returncode, done.stderr)
    head, _, blob = done.stdout.partition(b"\n")
    info = json.loads(head)
    if "error" in info:
        raise ScoringError(info["error"])
    layers, offset = [], 0
    for layer in info["layers"]:
        arrays = []
        for shape in (layer["kernel"], layer["bias"]):
            if not all(0 <= d <= MAX_DIMENSION for d in shape):
                raise ScoringError("the model reader returned a layer of shape %s" % (shape,))
            count = int(np.prod(shape))
            if offset + 4 * count > len(blob):
                raise ScoringError("the model reader returned truncated weights")
            values = np.frombuffer(blob, dtype="<f4", count=count, offset=offset)
            arrays.append(values.reshape(shape).astype(np.float32))
            offset += 4 * count
        layers.append((arrays[0], arrays[1], layer["activation"]))
    return layers


def main():
    """The child: .h5 bytes on stdin -> JSON head line + little-endian float32 weights on stdout."""
    children.limit_resources()  # before reading a byte of the model
    out = sys.stdout.buffer
    try:
        layers = read_dense_layers(sys.stdin.buffer.read())
    except ScoringError as exc:
        out.write(json.dumps({"error": str(exc)}).encode() + b"\n")
        return 0
    head = [{"activation": a, "kernel": list(k.shape), "bias": list(b.shape)} for k, b, a in layers]
    out.write(json.dumps({"layers": head}).encode() + b"\n")
    for kernel, bias, _ in layers:
        out.write(
            np.ascontiguousarray(kernel, dtype="<f4").tobytes() + np.ascontiguousarray(bias, dtype="<f4").tobytes()
        )
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
