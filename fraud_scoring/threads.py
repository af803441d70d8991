"""How many threads score, and running NumPy work on them."""

import os

_BLAS_LIMITED = []


def block_signals():
    """In a scoring thread: leave every signal to the backend's own thread (cancel, terminate)."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


def run_in_threads(fn, items, threads):
    """fn(item) for every item on `threads` threads; NumPy releases the GIL in its loops and BLAS calls.

    Our own threads, one chunk at a time each, rather than the BLAS library's: they
    also run the bias and sigmoid passes (single-threaded in NumPy), and they do not
    spin waiting for each other when the host is busy (OpenBLAS's two threads did:
    scoring 2M rows took 19.5 s with them against 8.6 s with one, on a busy host).
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads, initializer=block_signals) as pool:
        for _ in pool.map(fn, items):  # re-raises a chunk's error here
            pass


def limit_blas_threads():
    """One BLAS thread per calling thread, once per process (threadpoolctl, where installed).

    Without it, each of our threads would start its own BLAS threads: cores x cores.
    Where threadpoolctl is missing, OPENBLAS_NUM_THREADS=1 in the server's
    environment does the same; the segment probe reports which applies.
    """
    if _BLAS_LIMITED:
        return _BLAS_LIMITED[0]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _BLAS_LIMITED.append(False)
        return False
    threadpool_limits(limits=1, user_api="blas")
    _BLAS_LIMITED.append(True)
    return True


def usable_cores():
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def scoring_threads(threads):
    """Threads for one scoring call.

    threads > 0: that many. 0: every core this process may use (PostgreSQL: one
    backend scores). threads < 0: the host's cores shared by -threads processes
    scoring at once, at least one each (Greenplum: SQL passes minus the number of
    primary segments on the busiest host, so segments do not fight over cores).
    """
    if threads and threads > 0:
        return int(threads)
    if threads and threads < 0:
        return max(1, usable_cores() // -int(threads))
    return usable_cores()
