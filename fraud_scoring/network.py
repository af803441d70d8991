"""The Dense network of a Keras model as NumPy: the numpy runtime's forward pass and gradient.

A new activation is added here, in ACTIVATIONS (its in-place function and its
slope); the HDF5 reader accepts exactly the names listed.
"""

import numpy as np

from fraud_scoring.threads import limit_blas_threads, run_in_threads

# The forward pass keeps a chunk's activations as (units, columns) and computes every layer
# as kernel.T @ activations: each BLAS call has one shape, whatever the stack (the last
# chunk is padded), and the rows of the stack are the BLAS kernel's vectorised dimension.
# OpenBLAS picks its kernel and blocking by CPU and matrix shape, and its Haswell kernel
# (what AVX2-only CPUs, Zen included, get) computes the first and last 8 columns of a
# block otherwise than the rest: a chunk's rows therefore sit in columns MARGIN ..
# CHUNK_COLUMNS - MARGIN - 1, zeros around them, and CHUNK_COLUMNS stays within one
# OpenBLAS block (Haswell splits 512 columns in two, and its two blocks differ).
# tests/python/test_determinism.py checks every column of that window under several
# OpenBLAS kernels. Cost, measured on 2M rows in-process (one busy 2-core AVX-512 host):
# 658-684k rows/s against 704-721k with 8192-row chunks (within the run-to-run noise
# there, about 5%); a 20-row stack takes 0.46 ms instead of 0.04 ms (one padded chunk).
CHUNK_COLUMNS = 320
MARGIN = 8
PREDICT_CHUNK_ROWS = CHUNK_COLUMNS - 2 * MARGIN  # rows of the stack per chunk


def _sigmoid(z):
    # 0.5 * (1 + tanh(z / 2)): stable for large |z|
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5


def _relu(z):
    np.maximum(z, 0.0, out=z)


def _tanh(z):
    np.tanh(z, out=z)


def _linear(z):
    pass


# name -> (apply in place (float32 throughout), d activation / d z from the activation's output a)
ACTIVATION_FUNCTIONS = {
    "sigmoid": (_sigmoid, lambda a: a * (1.0 - a)),
    "relu": (_relu, lambda a: (a > 0).astype(a.dtype)),
    "tanh": (_tanh, lambda a: 1.0 - a * a),
    "linear": (_linear, np.ones_like),
}
ACTIVATIONS = tuple(ACTIVATION_FUNCTIONS)


def activate(z, activation):
    """Apply an activation in place."""
    ACTIVATION_FUNCTIONS[activation][0](z)


def activation_slope(a, activation):
    """d activation / d z, from the activation's output a."""
    return ACTIVATION_FUNCTIONS[activation][1](a)


class NumpyMLP:
    """A forward pass over the Dense layers of a Keras .h5, with NumPy only."""

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
        """float32 probabilities of the rows of x, in chunks of PREDICT_CHUNK_ROWS on `threads` threads.

        Bit-identical for a row whatever the stack around it, its position, its length or the
        thread count: every chunk is one (n_inputs, CHUNK_COLUMNS) float32 matrix, its rows in
        the columns of the window (see CHUNK_COLUMNS), zeros elsewhere; each BLAS call runs on
        one thread (limit_blas_threads; without threadpoolctl, OPENBLAS_NUM_THREADS=1 in the
        server's environment); threads share out whole chunks, never one product.
        """
        x = np.asarray(x, dtype=np.float32)
        out = np.empty(len(x), dtype=np.float32)
        starts = range(0, len(x), PREDICT_CHUNK_ROWS)
        layers = [
            (np.ascontiguousarray(kernel.T), bias.reshape(-1, 1), ACTIVATION_FUNCTIONS[activation][0])
            for kernel, bias, activation in self.layers
        ]
        window = slice(MARGIN, CHUNK_COLUMNS - MARGIN)

        def chunk(start):
            rows = x[start : start + PREDICT_CHUNK_ROWS]
            h = np.zeros((x.shape[1], CHUNK_COLUMNS), dtype=np.float32)
            h[:, MARGIN : MARGIN + len(rows)] = rows.T
            for kernel_t, bias, activate_in_place in layers:
                h = kernel_t @ h
                h += bias  # in place: one activation buffer per layer, not three
                activate_in_place(h)
            out[start : start + len(rows)] = h[0, window][: len(rows)]

        limit_blas_threads()
        if threads <= 1 or len(starts) <= 1:
            for start in starts:
                chunk(start)
        else:
            run_in_threads(chunk, starts, threads)
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
                activate(h, activation)
            outputs.append(h)
        grad = np.ones((len(h), 1))
        for i in range(len(self.layers) - 1, -1, -1):
            kernel, _, activation = self.layers[i]
            if i < len(self.layers) - 1:
                grad = grad * activation_slope(outputs[i], activation)
            grad = grad @ kernel.astype(np.float64).T
        return grad
