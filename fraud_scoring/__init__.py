"""The scorer that runs inside the database (PL/Python), importable anywhere.

Installed into the Python the database server uses (`make venv` does it for the
project's venv; on Greenplum the same venv on every segment host): the PL/Python
functions import fraud_scoring.udf and call it. Nothing here imports numpy, so
the version and source hash can be read cheaply (fraud_scoring.version).
"""

__version__ = "0.2.0"
RUNTIMES = ("numpy", "keras")  # what runs the network (var fraud_scoring_runtime); the benchmark measures each
# The most one probability may differ between the two runtimes, or between two CPUs (other
# OpenBLAS or oneDNN kernels), for one model and one transaction: the one tolerance every test
# comparing such scores uses. Within one runtime on one CPU a probability is bit-identical
# whatever stack, position or thread count scored it (tests/python/test_determinism.py).
SCORE_TOLERANCE = 1e-5
