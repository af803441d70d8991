"""The one exception the scorer raises for the person running dbt."""


class ScoringError(Exception):
    """A problem with the input or the model, worded for the person running dbt."""


class ChildInterrupted(ScoringError):
    """A child process (model reader, keras worker) killed by SIGINT or SIGTERM: most likely the cancel or
    terminate of its backend, which PostgreSQL signals as a process group. The caller lets PostgreSQL
    report the cancel rather than this error (udf.score_stack_or_warn)."""
