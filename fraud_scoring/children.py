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

    return ScoringError(f"the {what} process {how} (the database server is unaffected): {tail}")


# ---- waiting for a child: the backend's cancel and terminate still act ----------------------

POLL_S = 0.05  # how often a wait for a child looks for a pending cancel or terminate


def popen(args, **kwargs):
    """subprocess.Popen of a child in a session of its own.

    PostgreSQL signals a backend's whole process group (pg_cancel_backend, pg_terminate_backend):
    a child in that group got the SIGINT too, died of KeyboardInterrupt, and its error reached
    the client instead of PostgreSQL's "canceling statement due to user request". Here the
    backend alone gets the signal; the waits below end the child.
    """
    import subprocess

    return subprocess.Popen(args, start_new_session=True, **kwargs)


class _Backend:
    """The hooks into the PostgreSQL backend this code runs in, resolved once (None outside one)."""

    resolved = False
    plpy = pending = cancel_pending = die_pending = in_parallel_mode = None

    @classmethod
    def get(cls):
        if not cls.resolved:
            cls.resolved = True
            try:
                import plpy  # PL/Python's module: importable only inside a backend
            except ImportError:
                return cls
            import ctypes

            cls.plpy = plpy
            try:
                server = ctypes.CDLL(None)  # the postgres executable exports its globals to extensions
                cls.pending = ctypes.c_int.in_dll(server, "InterruptPending")
                cls.cancel_pending = ctypes.c_int.in_dll(server, "QueryCancelPending")
                cls.die_pending = ctypes.c_int.in_dll(server, "ProcDiePending")
                cls.in_parallel_mode = server.IsInParallelMode
                cls.in_parallel_mode.restype = ctypes.c_bool
            except (OSError, ValueError, AttributeError):
                cls.pending = None
        return cls


def check_interrupts():
    """Raise PostgreSQL's own error for a cancel or terminate that arrived while this backend waits.

    A read of the backend's InterruptPending: nothing else when none is pending, and nothing
    outside a backend (tests, the benchmark: Python's own KeyboardInterrupt applies there) or
    where the server's globals cannot be read (the cancel then acts when the child is done).
    When one is pending, plpy.execute (its executor checks for interrupts) raises PostgreSQL's
    error: "canceling statement due to user request", a statement timeout's, or the backend
    exits on a terminate. In parallel mode SPI cannot run (no subtransactions there): an error
    with the cancel's SQLSTATE, the leader's own error reaching the client.
    """
    backend = _Backend.get()
    if backend.pending is None or not backend.pending.value:
        return  # outside a backend, or a server that does not export its globals: the wait goes on
    if backend.in_parallel_mode():
        # InterruptPending is set for more than a cancel: a parallel worker's message to the
        # leader (one finishing its share) sets it too, and the leader waits here while its
        # workers score. Only a cancel or a terminate is an interrupt to act on (taking any
        # for one failed a plain run: "canceling statement" with nobody cancelling).
        if not (backend.cancel_pending.value or backend.die_pending.value):
            return
        backend.plpy.error(
            "canceling statement: an interrupt arrived while the backend waited for a child process",
            sqlstate="57014",
        )
    backend.plpy.execute("select 1")


def end(proc):
    """Kill a child and reap it (after an interrupt or an error while waiting for it)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def run(args, input, timeout, env):
    """subprocess.run(args, input=..., capture_output=True, timeout=..., env=...) in a session of its own,
    checking the backend's interrupts every POLL_S; the child is killed on an interrupt or the timeout."""
    import subprocess
    import tempfile
    import time

    with tempfile.TemporaryFile() as stdin:  # a file: communicate's retries would not write the rest of input
        stdin.write(input)
        stdin.seek(0)
        proc = popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(args, timeout) from None
                check_interrupts()
    except BaseException:
        end(proc)
        raise
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def _wait(fd, event):
    import select

    poller = select.poll()  # not select.select: a backend's descriptors can pass FD_SETSIZE
    poller.register(fd, event | select.POLLERR | select.POLLHUP)
    while not poller.poll(POLL_S * 1000):
        check_interrupts()


def write_all(fd, data):
    """Write all of data to a non-blocking pipe, checking the backend's interrupts while it is full."""
    import select

    view = memoryview(data)
    while view:
        _wait(fd, select.POLLOUT)
        try:
            view = view[os.write(fd, view[: 1 << 20]) :]
        except BlockingIOError:
            pass


def read_exactly(fd, size):
    """size bytes from a non-blocking pipe (fewer at its end), checking the backend's interrupts while it is empty."""
    import select

    chunks, got = [], 0
    while got < size:
        _wait(fd, select.POLLIN)
        try:
            chunk = os.read(fd, min(size - got, 1 << 20))
        except BlockingIOError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
