"""Running the `bench report` / `bench compare` entry points from the tests."""
import functools
import os
import subprocess
import sys

import make_db

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(maxsize=None)
def bench_with_reports():
    """The bench binary when it has the report/compare subcommands (a stale build may not), else None."""
    b = make_db.find_bench()
    if not b:
        return None
    try:
        out = subprocess.run([b, "--help"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return b if "compare" in out and "report" in out else None


def run_entry(command, args, timeout=900):
    """Runs `bench <command> args` through the C++ binary when it is built (as users run it), else the Python
    script directly (the same code path after the thin C++ wrapper)."""
    b = bench_with_reports()
    argv = [b, command, *args] if b else [sys.executable, os.path.join(REPO, "reports", f"{command}.py"), *args]
    # The wrapper runs the scripts with this interpreter: the one running the tests, which has their packages.
    env = dict(os.environ, BENCH_PYTHON=sys.executable)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
