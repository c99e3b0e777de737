"""Fixtures for the report / compare / workflow tests: synthetic databases written by make_db.py."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for p in (REPO, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import make_db  # noqa: E402


@pytest.fixture(scope="session")
def report_db(tmp_path_factory):
    """Two runs: run 1 complete; run 2 with a failed and a never-run configuration."""
    path = str(tmp_path_factory.mktemp("report-db") / "bench.db")
    conn = make_db.create_db(path)
    make_db.add_run(conn, seed=1)
    make_db.add_run(conn, seed=2, commit="fedcba9876543210fedcba9876543210fedcba98",
                    started_at="2026-01-11T02:00:00.000Z", failed=("piqa / snapkv(budget=0.25)",),
                    pending=("latency / snapkv(budget=0.5)",), run_status="running")
    conn.close()
    return path
