"""Refusing a stack the host cannot score without running out of memory."""

from fraud_scoring.errors import ScoringError

# Bytes a scored row holds at the peak of a call: the stack in PostgreSQL and its
# Python copy (2 x 120), ids and features and their standardised copy (8 + 2 x
# 112), the probabilities, the Python lists and the array text (~150).
BYTES_PER_ROW_SCORING = 650


def available_memory():
    """MemAvailable of this host in bytes (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


# Copies of the model a backend holds while loading it: the argument, its Python bytes,
# the weights the reader child returns and the network built from them (float32 weights
# are at most the file's size: model_audit refuses datasets that declare more than it holds).
MODEL_COPIES = 4


def check_stack_memory(n_rows, available, model_bytes=0):
    """Refuse a stack whose scoring would take more than half the memory the host has free.

    An out-of-memory kill of a backend restarts the whole PostgreSQL server;
    a refused stack only fails the query, with what to change. The model counts too.
    """
    if n_rows < 0:
        raise ScoringError("a negative row count: %d" % n_rows)
    needed = n_rows * BYTES_PER_ROW_SCORING + MODEL_COPIES * model_bytes
    if available is not None and needed > available // 2:
        raise ScoringError(
            "a stack of %d rows needs about %d MB to score (a model of %d bytes included), more than half of "
            "the %d MB this server has available: lower var fraud_batch_rows"
            % (n_rows, needed >> 20, model_bytes, available >> 20)
        )
