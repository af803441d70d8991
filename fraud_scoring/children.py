"""Child processes of the backend: where HDF5 parsing and TensorFlow run, never in the backend.

A crash in a child (HDF5 is C; TensorFlow's initialiser segfaulted inside a
backend here) only fails the query; in the backend it would restart the whole
PostgreSQL server. Children are this package's own modules run with `python -m`.
"""

import os
import sys

from fraud_scoring.errors import ScoringError

# The directory this copy of fraud_scoring was imported from: put first on the
# child's path, so the child runs the same code as the backend (the installed
# copy in the database, the checkout in tests), whatever else PYTHONPATH holds.
IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python():
    """The interpreter for a child: the backend's own (PL/Python's embedded Python reports it)."""
    return sys.executable or "python3"


def command(args):
    """argv of a child running `python -P <args>`: -P keeps the working directory (the server's data
    directory, a test's checkout) off sys.path, so IMPORT_ROOT decides which fraud_scoring runs."""
    return [python(), "-P", *args]


def module_args(module):
    """The arguments that run one of this package's modules as a program."""
    return ["-m", module]


def child_env(**extra):
    """The backend's environment, with IMPORT_ROOT first on PYTHONPATH, plus `extra`."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": IMPORT_ROOT + (os.pathsep + path if path else ""), **extra}


def child_died(what, returncode, stderr):
    """The error for a child process (a model reader, a keras worker) that died: the server did not."""
    how = "was killed by signal %d" % -returncode if returncode < 0 else "exited with status %d" % returncode
    tail = stderr[-800:].decode("utf-8", "replace").strip()
    return ScoringError(f"the {what} process {how} (the database server is unaffected): {tail}")
