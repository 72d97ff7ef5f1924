"""The fault suite's figures, printed at the end of the run and written to FAULT_REPORT (a JSON file)."""

from __future__ import annotations

import json
import os
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


def pytest_terminal_summary(terminalreporter):
    report = figures()
    if report is None:
        return
    terminalreporter.write_sep("-", "fault injection figures")
    terminalreporter.write_line(json.dumps(report, indent=1))
    if path := os.environ.get("FAULT_REPORT"):
        Path(path).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
