"""`amazon-channel`: the local command line (the embedded stack, the demo, scenarios).

Exit codes: 0 the scenario was played (whatever the orders' fate); 2 the scenario or the command
line is invalid (message: the file and the step); 3 a step uses a verb whose behaviour is not
built yet; 1 anything else went wrong (message, and the log file to read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_SCENARIOS = [ROOT / "scenarios" / "demo-guest-and-fba.json", ROOT / "scenarios" / "demo-customer-accounts.json"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_YET = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amazon-channel", description="Amazon sales channel for Adobe Commerce: local tools.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="play a scenario on the embedded local stack and write the result")
    sim.add_argument("scenario", help="scenario file (shared/scenario-format.md, v1)")
    sim.add_argument("--out", help="result file (default: standard output)")
    sim.add_argument("--log", help="write the handlers' logs here (default: a temporary file)")
    demo = sub.add_parser("demo", help="play the demo scenarios and print each order's lifecycle")
    demo.add_argument("--log", help="write the handlers' logs here (default: a temporary file)")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    log_path = args.log or os.path.join(tempfile.gettempdir(), f"amazon-channel-{os.getpid()}.log")
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            if args.command == "simulate":
                return _simulate(args.scenario, args.out, log)
            return _demo(log)
    except Exception as e:  # noqa: BLE001 - the one place that turns failures into a message
        from .player import NotSupportedYet
        from .scenario import ScenarioError

        if args.debug:
            raise
        if isinstance(e, NotSupportedYet):
            print(f"amazon-channel: {e}", file=sys.stderr)
            return EXIT_NOT_YET
        if isinstance(e, ScenarioError):
            print(f"amazon-channel: {e}", file=sys.stderr)
            return EXIT_INVALID
        print(f"amazon-channel: {type(e).__name__}: {e} (handler logs: {log_path})", file=sys.stderr)
        return EXIT_FAILED


def _simulate(path: str, out: str | None, log) -> int:
    from .player import play_file

    result = play_file(path, log_stream=log)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return EXIT_OK


def _demo(log) -> int:
    from rich.console import Console

    from .lifecycle import lifecycle_tables
    from .player import play_file

    console = Console()
    console = Console(width=max(console.width, 132))
    for path in DEMO_SCENARIOS:
        from .scenario import load

        scenario = load(path)
        console.rule(f"[bold]{scenario.name}")
        with console.status("playing on the embedded stack..."):
            result = play_file(str(path), log_stream=log)
        for table in lifecycle_tables(result):
            console.print(table)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
