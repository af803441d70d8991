"""A probability is a function of the model and the transaction's features alone.

Bit-identical, within one runtime on one CPU, whatever stack the row is scored in: its
length, the row's offset in it, the thread count. OpenBLAS picks its kernels by CPU
(an AVX2-only EPYC gets the Haswell kernels, this kind of machine the SkylakeX ones),
so the forward pass runs in child processes under several of them
(OPENBLAS_CORETYPE, only those this CPU can execute), and NumPy's own SIMD loops
(np.tanh of the sigmoid, the bias, relu) with and without their wider targets
(NPY_DISABLE_CPU_FEATURES). Across runtimes or CPUs only SCORE_TOLERANCE holds.

This file is also the child: `python test_determinism.py MODEL_DIR ROWS.npy`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
THREADS = (1, 2, 3)
LENGTHS = (1, 2, 7, 303, 304, 305, 608, 1000, 5000)
# OpenBLAS coretype -> the CPU flags it needs (forcing one the CPU lacks would die of SIGILL)
CORETYPES = {
    "Haswell": {"avx2", "fma"},  # AVX2-only CPUs, AMD Zen 1-3 included
    "Zen": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512bw", "avx512vl"},
    "Sandybridge": {"avx"},
    "Prescott": {"pni"},  # SSE3
}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def child(model_dir: str, rows_path: str) -> dict:
    """Score every row alone, then in stacks of every kind; report each difference in bits."""
    from threadpoolctl import threadpool_info

    from fraud_scoring.network import PREDICT_CHUNK_ROWS, activate
    from fraud_scoring.scorer import load_scorer
    from training import artifacts

    model_dir = Path(model_dir)
    meta = artifacts.load_metadata(model_dir)
    h5 = (model_dir / artifacts.MODEL_FILE).read_bytes()
    x = np.load(rows_path)
    probes, filler = x[:64], x[64:]
    differences = []

    def check(what, got, expected):
        n = int((got.view(np.int32) != expected.view(np.int32)).sum())
        if n:
            differences.append(f"{what}: {n} rows")

    scorers = {t: load_scorer(h5, meta, "numpy", threads=t) for t in THREADS}
    alone = np.concatenate([scorers[1].predict(probes[i : i + 1]) for i in range(len(probes))])
    for offset in range(min(PREDICT_CHUNK_ROWS, len(filler)) + 1):  # the probes at every position of a chunk
        stack = np.concatenate([filler[:offset], probes])
        check(f"offset {offset}", scorers[1].predict(stack)[offset:], alone)
    for threads, scorer in scorers.items():
        for length in LENGTHS:
            stack = np.concatenate([probes, filler[:length]])
            check(f"{threads} threads, {length} more rows", scorer.predict(stack)[:64], alone)
        # through the stack bytes SQL builds, the rows in another order (conftest imported after
        # fraud_scoring: it puts the checkout first on sys.path, the child scores PYTHONPATH's copy)
        from conftest import make_stack

        ids = np.arange(len(x))[::-1].copy()
        got = scorer.score(make_stack(ids, x[::-1].copy()), len(x))[1][::-1][:64]
        check(f"{threads} threads, whole stack reversed", got, alone)
    # NumPy's own loops: an element's bits do not depend on its array's length or its place in it
    values = (np.random.default_rng(0).standard_normal(2000) * 4).astype(np.float32)
    for name in ("sigmoid", "tanh", "relu"):
        single = np.concatenate([_activated(values[i : i + 1], name, activate) for i in range(len(values))])
        for length in (*range(1, 40), 320, 2000):
            for offset in (0, 1, 3):  # misaligned starts too
                buf = np.empty(length + offset, np.float32)[offset:]
                for s in range(0, len(values), length):
                    part = values[s : s + length]
                    buf[: len(part)] = part
                    check(f"{name}, length {length}, offset {offset}", _activated(buf[: len(part)], name, activate),
                          single[s : s + len(part)])  # fmt: skip
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    from numpy._core._multiarray_umath import __cpu_features__

    return {
        "architecture": blas[0].get("architecture") if blas else None,
        "blas_threads": blas[0].get("num_threads") if blas else None,
        "numpy_features": sorted(k for k, on in __cpu_features__.items() if on),
        "differences": differences,
        "alone": alone.view(np.int32).tolist(),
    }


def _activated(z, name, activate):
    z = z.copy()
    activate(z, name)
    return z


def run_child(model_dir: Path, rows: Path, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, str(model_dir), str(rows)],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def rows(tmp_path_factory, tiny_data) -> Path:
    path = tmp_path_factory.mktemp("determinism") / "rows.npy"
    np.save(path, np.ascontiguousarray(tiny_data.X[:6000], dtype=np.float32))
    return path


@pytest.mark.parametrize("coretype", ["", *CORETYPES])
def test_a_row_has_the_same_bits_in_every_stack_under_each_blas_kernel(model_dir, rows, coretype):
    if coretype and not CORETYPES[coretype] <= cpu_flags():
        pytest.skip(f"this CPU cannot run OpenBLAS's {coretype} kernels")
    got = run_child(model_dir, rows, OPENBLAS_CORETYPE=coretype)
    if coretype and coretype != "Zen":  # Zen: the Haswell kernels, where the build has no Zen of its own
        assert got["architecture"].lower() in (coretype.lower(), "katmai" if coretype == "Prescott" else ""), got
    assert got["differences"] == [], (got["architecture"], got["differences"][:20])


def test_numpys_own_loops_give_the_same_bits_without_their_wider_simd_targets(model_dir, rows):
    """NPY_DISABLE_CPU_FEATURES: NumPy as on a CPU without AVX-512 (and without AVX2)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    dispatched = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    wide = [f for f in dispatched if "512" in f or f.endswith("_V4")]
    if not wide:
        pytest.skip("NumPy dispatches no AVX-512 loop on this CPU")
    for disabled in (wide, dispatched):
        got = run_child(model_dir, rows, NPY_DISABLE_CPU_FEATURES=" ".join(disabled))
        assert not set(disabled) & set(got["numpy_features"]), got["numpy_features"]
        assert got["differences"] == [], (disabled, got["differences"][:20])


def test_the_keras_runtime_gives_a_row_the_same_bits_in_every_stack(model_dir, tiny_data):
    """Keras predicts batches of keras_worker.BATCH_ROWS, the last padded: one input shape."""
    from fraud_scoring.keras_worker import BATCH_ROWS
    from fraud_scoring.scorer import load_scorer
    from training import artifacts

    meta = artifacts.load_metadata(model_dir)
    h5 = (model_dir / artifacts.MODEL_FILE).read_bytes()
    x = np.ascontiguousarray(tiny_data.X[:4000], dtype=np.float32)
    probes, filler = x[:32], x[32:]
    for threads in (1, 2):  # TensorFlow's intra-op threads
        scorer = load_scorer(h5, meta, "keras", threads=threads)
        alone = scorer.predict(probes[:1])
        if threads == 1:
            first = alone
        assert alone.view(np.int32) == first.view(np.int32)
        for offset in (0, 1, 5, BATCH_ROWS - 33, BATCH_ROWS - 1, BATCH_ROWS, 2500):
            got = scorer.predict(np.concatenate([filler[:offset], probes]))[offset:]
            if offset == 0:
                together = got
            assert got[0].view(np.int32) == alone[0].view(np.int32), (threads, offset)
            assert np.array_equal(got.view(np.int32), together.view(np.int32)), (threads, offset)


if __name__ == "__main__":
    print(json.dumps(child(*sys.argv[1:3])))
