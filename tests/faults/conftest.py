"""The fault suite's figures, for the end of the run (printed, and written to FAULT_REPORT by tests/conftest.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def figures() -> dict | None:
    module = sys.modules.get("test_fault_injection") or sys.modules.get("tests.faults.test_fault_injection")
    if module is None or not module.FIGURES["cases"]:
        return None
    f = module.FIGURES
    return {
        "seed": f["seed"],
        "cases": f["cases"],
        "orders_played": f["orders_played"],
        "faults_injected": dict(f["faults_injected"]),
        "notifications_redelivered": f["redeliveries"],
        "batches_reordered": f["reordered"],
        "violations": dict(f["violations"]),
    }


def pytest_sessionfinish(session):
    """Hand the figures to tests/conftest.py, which prints them at the end of the run; on a pytest-xdist
    worker, through the worker's output to the controller (which never imports this suite)."""
    report = figures()
    if report is None:
        return
    session.config.fault_figures = report
    if (workeroutput := getattr(session.config, "workeroutput", None)) is not None:
        workeroutput["fault_figures"] = json.dumps(report)
