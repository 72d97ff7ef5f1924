#!/usr/bin/env python
"""The fault-injection suite's figures for the closing note.

    .venv/bin/python bench/fault_suite.py [--seed N]

Runs tests/faults (every external call failed before, after with the answer lost, and as a
timeout of its invocation; one order per case, notifications redelivered and reordered) and prints
its figures: faults injected per kind, orders played, and violations of each invariant, with
the run's wall seconds and CPU seconds (user+sys, steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", help="FAULT_SEED (default: the suite's fixed seed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.json"
        env = {**os.environ, "FAULT_REPORT": str(report)}
        if args.seed:
            env["FAULT_SEED"] = args.seed
        t0 = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:randomly"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - t0
        print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:])
        if not report.exists():
            return run.returncode or 1
        figures = json.loads(report.read_text(encoding="utf-8"))
    figures["seconds"] = round(seconds, 1)
    # CPU seconds (user+sys) of the run: on a shared machine far steadier than the wall time
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["cpu_seconds"] = round(used.ru_utime + used.ru_stime, 1)
    print(json.dumps(figures, indent=1))
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
