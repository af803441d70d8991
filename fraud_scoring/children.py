"""Child processes of the backend: where HDF5 parsing and TensorFlow run, never in the backend.

A crash in a child (HDF5 is C; TensorFlow's initialiser segfaulted inside a
backend here) only fails the query; in the backend it would restart the whole
PostgreSQL server. Children are this package's own modules run with `python -m`.
"""

import os
import sys

from fraud_scoring.errors import ChildInterrupted, ScoringError

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


# How a child learns its limits: the parent sets them in the child's environment,
# the child applies them itself (limit_resources) before it reads any input. Not a
# preexec_fn: that runs between fork and exec in the backend, unsafe with threads.
MEMORY_ENV = "FRAUD_SCORING_CHILD_MEMORY_BYTES"
CPU_ENV = "FRAUD_SCORING_CHILD_CPU_S"


def limits_env(memory_bytes, cpu_s):
    """The environment entries that make a child limit itself (limit_resources)."""
    return {MEMORY_ENV: str(int(memory_bytes)), CPU_ENV: str(int(cpu_s)), "OPENBLAS_NUM_THREADS": "1"}


def limit_resources():
    """In a child, at its start: cap its address space (RLIMIT_AS) and CPU time (RLIMIT_CPU) as its
    parent asked, so a hostile or broken model costs one failed query, never the server's memory.

    Past the memory limit an allocation fails (MemoryError, or the child dies); past the CPU soft
    limit the kernel sends SIGXCPU (the child dies). Either way the parent reports the child's
    death as a ScoringError; the backend is unaffected.
    """
    import resource

    memory = int(os.environ.get(MEMORY_ENV, "0"))
    cpu = int(os.environ.get(CPU_ENV, "0"))
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if cpu > 0:
        # the hard limit stays open, so a long-lived worker can extend its own budget
        # per batch of its own making (extend_cpu_budget); the soft one is what bites
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, resource.RLIM_INFINITY))


def extend_cpu_budget(seconds):
    """Move the CPU-time soft limit to `seconds` past what this process has used (a worker, per batch)."""
    import resource

    if int(os.environ.get(CPU_ENV, "0")) <= 0:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (used + int(seconds), resource.RLIM_INFINITY))


def child_died(what, returncode, stderr):
    """The error for a child process (a model reader, a keras worker) that died: the server did not."""
    import signal

    how = "was killed by signal %d" % -returncode if returncode < 0 else "exited with status %d" % returncode
    tail = stderr[-800:].decode("utf-8", "replace").strip()
    error = ChildInterrupted if -returncode in (signal.SIGINT, signal.SIGTERM) else ScoringError
    return error(f"the {what} process {how} (the database server is unaffected): {tail}")
