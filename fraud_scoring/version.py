"""The package's version and a hash of its source, without importing numpy.

The install records both (`{schema}.installation`, component fraud_scoring) and
check_fraud_segments compares every segment's copy with them: a segment host
whose venv holds another copy of the scorer would otherwise score differently,
silently. `python -m fraud_scoring.version` prints them (the Makefile compares the
installed copy's hash with the checkout's).
"""

from __future__ import annotations

import hashlib
import json
import os

from fraud_scoring import __version__

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def source_hash(directory: str = PACKAGE_DIR) -> str:
    """sha256 over the package's module files (name and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(n for n in os.listdir(directory) if n.endswith(".py")):
        with open(os.path.join(directory, name), "rb") as f:
            digest.update(name.encode() + b"\0" + f.read() + b"\0")
    return digest.hexdigest()


def package_info() -> dict:
    """{name, version, sha256, path}: what the install records and the probe reports."""
    return {"name": "fraud_scoring", "version": __version__, "sha256": source_hash(), "path": PACKAGE_DIR}


def describe(info: dict) -> str:
    """The text recorded in {schema}.installation and compared per segment: '<version> sha256:<hash>'."""
    return "{} sha256:{}".format(info["version"], info["sha256"])


if __name__ == "__main__":
    print(json.dumps(package_info()))
