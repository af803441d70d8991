"""The keras runtime: TensorFlow in a child process of the backend, never in the backend itself.

Importing TensorFlow inside a PostgreSQL backend that had just aggregated a
100k-row stack segfaulted in TensorFlow's own library initialiser and took the
whole server down (seen here with TF 2.21). A crash in the child only fails the
query. The worker, `python -m fraud_scoring.keras_worker`, speaks on its
stdin/stdout: int64 length + .h5 bytes -> int64 input width (negative: -length
of an error text that follows); then per batch int64 rows + float32 rows ->
float32 probabilities. KerasModel is its client, kept for the backend's life.

This module imports neither Keras nor TensorFlow at its top: the backend imports
it for KerasModel; only the worker's main() loads Keras.
"""

import os
import struct
import sys

import numpy as np

from fraud_scoring import children
from fraud_scoring.errors import ScoringError
from fraud_scoring.h5_reader import require_hdf5
from fraud_scoring.threads import scoring_threads

WORKER_ARGS = children.module_args("fraud_scoring.keras_worker")
# TensorFlow maps ~2.3 GB of address space to score the 2017 network on 2 cores (thread
# stacks grow with the cores); weights are at most model_audit.MAX_WEIGHT_BYTES.
WORKER_MEMORY_BYTES = 8 << 30
WORKER_LOAD_CPU_S = 300  # CPU seconds to import TensorFlow and load the model
WORKER_BATCH_CPU_S = 600  # CPU seconds for each batch after that (see children.extend_cpu_budget)
# Every batch Keras predicts has this many rows, the last padded with zeros: with one input
# shape a row's probability has the same bits whatever stack it arrives in (measured: every
# position of a batch, 1 and 2 intra-op threads, gave the same bits; the cost is in the
# commit that set it).
BATCH_ROWS = 1024


def main():
    """The worker: load the model sent on stdin, then score batches until stdin closes."""
    import tempfile

    from fraud_scoring.h5_reader import audit_model_bytes

    children.limit_resources()  # before reading a byte of the model
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    src, out = sys.stdin.buffer, sys.stdout.buffer

    def reply_error(text):
        data = text.encode("utf-8", "replace")
        out.write(struct.pack("<q", -len(data)) + data)
        out.flush()

    (size,) = struct.unpack("<q", src.read(8))
    h5_bytes = src.read(size)
    try:
        audit_model_bytes(h5_bytes)  # the same subset as the numpy runtime's: plain data, in the file
    except ScoringError as exc:
        reply_error(str(exc))
        return 0
    fd, path = tempfile.mkstemp(suffix=".h5")
    try:
        os.write(fd, h5_bytes)
        os.close(fd)
        import keras

        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        reply_error("Keras cannot load the model: %s" % exc)
        return 0
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
        children.extend_cpu_budget(WORKER_BATCH_CPU_S)
        padded = np.zeros((-(-rows // BATCH_ROWS) * BATCH_ROWS, width), dtype=np.float32)
        padded[:rows] = np.frombuffer(src.read(rows * width * 4), dtype="<f4").reshape(rows, width)
        prob = model.predict(padded, batch_size=BATCH_ROWS, verbose=0)[:rows] if rows else np.empty(0)
        out.write(np.asarray(prob, dtype="<f4").reshape(-1).tobytes())
        out.flush()
    return 0


class KerasModel:
    """The same model through Keras (TensorFlow), in a worker process kept for the backend's life."""

    def __init__(self, h5_bytes, n_features, threads=0):
        require_hdf5(h5_bytes)  # a clear error before Keras sees them
        self._h5_bytes, self._n_features = bytes(h5_bytes), n_features
        self._threads = str(scoring_threads(threads))
        self._start()

    def _start(self):
        """Start the worker and send it the model. A cancel or terminate while it loads (importing
        TensorFlow takes seconds) ends the worker and raises PostgreSQL's own error (children.check_interrupts)."""
        import subprocess
        import tempfile

        self._stderr = tempfile.TemporaryFile()
        self._proc = children.popen(
            children.command(WORKER_ARGS),
            # TensorFlow's thread pools: as many threads as the numpy runtime would use
            env=children.child_env(
                TF_NUM_INTRAOP_THREADS=self._threads,
                TF_NUM_INTEROP_THREADS="1",
                **children.limits_env(WORKER_MEMORY_BYTES, WORKER_LOAD_CPU_S),
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        os.set_blocking(self._proc.stdin.fileno(), False)
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._write(struct.pack("<q", len(self._h5_bytes)) + self._h5_bytes)
        (width,) = struct.unpack("<q", self._read(8))
        if width < 0:
            raise ScoringError(self._read(-width).decode("utf-8", "replace"))
        if width != self._n_features:
            raise ScoringError("the model expects %d input features, scoring supplies %d" % (width, self._n_features))

    def _died(self):
        code = self._proc.wait()
        self._stderr.seek(0)
        return children.child_died("keras worker", code, self._stderr.read())

    def _write(self, data):
        try:
            children.write_all(self._proc.stdin.fileno(), data)
        except (BrokenPipeError, OSError):
            raise self._died() from None
        except BaseException:  # an interrupt: the worker is ended, a later call starts another
            children.end(self._proc)
            raise

    def _read(self, size):
        try:
            data = children.read_exactly(self._proc.stdout.fileno(), size)
        except BaseException:
            children.end(self._proc)
            raise
        if len(data) != size:
            raise self._died()
        return data

    def predict(self, x, threads=1):
        if self._proc.returncode is not None:  # ended by an interrupt in an earlier call of this backend
            self._start()
        x = np.ascontiguousarray(x, dtype="<f4")
        self._write(struct.pack("<q", len(x)) + x.tobytes())
        return np.frombuffer(self._read(4 * len(x)), dtype="<f4").astype(np.float32)


if __name__ == "__main__":
    sys.exit(main())
