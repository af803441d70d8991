"""Runs last (conftest.py moves these tests to the end): nothing in the suite took the server down."""

import pytest
from dbtdb import query

pytestmark = pytest.mark.database


def test_the_server_was_never_restarted(server_watch):
    assert query("select pg_postmaster_start_time()")[0][0] == server_watch["started"]


def test_the_server_log_reports_no_terminated_process(server_watch):
    log = server_watch["log"]
    if not log.exists():
        pytest.skip(f"{log} is not the server's log (an external server)")
    with open(log, "rb") as f:
        f.seek(server_watch["offset"])
        text = f.read().decode("utf-8", "replace")
    bad = [line for line in text.splitlines() if "terminated by signal" in line or "was terminated" in line]
    assert not bad, bad
