"""Hostile model files, built with h5py, for the tests that attack the scorer (test_hostile_models.py,
without a database; test_security.py, in it): a kernel whose bytes are stored in a server file
(external storage: scoring one-hot rows returned the file, 112 bytes a call), a gzip bomb, a
virtual dataset, external and soft links, and datasets that declare more than they hold. The
fixtures `secret_file` and `hostile` (conftest.py) call make_hostile_models."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

FEATURES = [f"V{i}" for i in range(1, 29)]
SECRET = b"root:x:0:0:a secret of the server:/root:/bin/bash\n" * 3  # 150 bytes: the attack read 112


def _config(units=1):
    """The model_config of a Keras Sequential 28 -> units linear Dense model, as Keras writes it."""
    layers = [
        {"class_name": "InputLayer", "config": {"name": "input_layer", "batch_shape": [None, 28]}},
        {"class_name": "Dense", "config": {"name": "dense", "units": units, "activation": "linear"}},
    ]
    return json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}})


def crafted_model(path, kernel=None, **kernel_options):
    """A 28 -> 1 linear Dense "model" written by hand. kernel: a function (group, name) that creates
    the kernel (a hostile one), else a plain float32 (28, 1) kernel with kernel_options."""
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = _config()
        f.attrs["keras_version"] = "3.15.1"
        f.attrs["backend"] = "tensorflow"
        g = f.create_group("model_weights/dense/sequential/dense")
        g.create_dataset("bias", data=np.zeros(1, np.float32))
        if kernel is None:
            g.create_dataset("kernel", data=np.arange(28, dtype=np.float32).reshape(28, 1), **kernel_options)
        else:
            kernel(g, "kernel")
    return path.read_bytes()


def write_secret_file(tmp_path_factory):
    """A file only the server's OS user and this test can read, standing for /etc/passwd or pg_authid."""
    path = tmp_path_factory.mktemp("secret") / "secret.bin"
    path.write_bytes(SECRET)
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return path


def _external(secret):
    return lambda g, name: g.create_dataset(name, (28, 1), np.float32, external=[(str(secret), 0, 112)])


def _bomb(g, name):
    # 28 x 65536 zeros (7 MB declared), gzip-compressed to a few KB; the review's 354 KB one declared 700 MB
    ds = g.create_dataset(name, (28, 65536), np.float32, chunks=(28, 4096), compression="gzip", compression_opts=9)
    for start in range(0, 65536, 4096):
        ds[:, start : start + 4096] = 0


def _virtual(secret_h5):
    def make(g, name):
        layout = h5py.VirtualLayout(shape=(28, 1), dtype=np.float32)
        layout[:] = h5py.VirtualSource(str(secret_h5), "data", shape=(28, 1))
        g.create_virtual_dataset(name, layout)

    return make


def _external_link(secret_h5):
    def make(g, name):
        g[name] = h5py.ExternalLink(str(secret_h5), "/data")

    return make


def _soft_link(g, name):
    g.file.create_dataset("elsewhere", data=np.ones((28, 1), np.float32))
    g[name] = h5py.SoftLink("/elsewhere")


def _unallocated(g, name):
    # chunked, unfiltered and never written: declares 28 x 60000 floats, stores none (the fill value)
    g.create_dataset(name, (28, 60000), np.float32, chunks=(28, 1000))


def _int64(g, name):
    g.create_dataset(name, data=np.ones((28, 1), np.int64))


def _three_dimensions(g, name):
    g.create_dataset(name, data=np.ones((28, 1, 1), np.float32))


def make_hostile_models(tmp_path_factory, secret_file):
    """{name: (the .h5 bytes, what the refusal says)}; 'benign' is the same hand-made model, harmless."""
    root = tmp_path_factory.mktemp("hostile")
    os.chmod(root, 0o755)
    secret_h5 = root / "secret.h5"
    with h5py.File(secret_h5, "w") as f:
        f.create_dataset("data", data=np.frombuffer(SECRET[:112], np.float32).reshape(28, 1))
    os.chmod(secret_h5, 0o644)
    makers = {
        "benign": (None, None),
        "external-storage": (_external(secret_file), "has external storage"),
        "gzip-bomb": (_bomb, r"stored through filters \(deflate"),
        "virtual": (_virtual(secret_h5), "is a virtual dataset"),
        "external-link": (_external_link(secret_h5), "holds an external link"),
        "soft-link": (_soft_link, "holds a soft link"),
        "unallocated": (_unallocated, "declares 6720000 bytes but stores 0"),
        "int64": (_int64, "has dtype int64: only float32 is accepted"),
        "three-dimensions": (_three_dimensions, "at most 2 dimensions"),
    }
    return {name: (crafted_model(root / f"{name}.h5", maker), message) for name, (maker, message) in makers.items()}


ATTACKS = [
    "external-storage",
    "gzip-bomb",
    "virtual",
    "external-link",
    "soft-link",
    "unallocated",
    "int64",
    "three-dimensions",
]
