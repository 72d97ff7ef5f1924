"""`amazon-channel`: the local command line (the embedded stack, the demo, scenarios).

Exit codes: 0 the scenario was played (whatever the orders' fate); 2 the scenario or the command
line is invalid (message: the file and the step); 3 a step uses a verb whose behaviour is not
built yet; 1 anything else went wrong (message, and the log file to read).
The debugging commands (replay, export, redrive, trace, simulate --replay; `debugging/commands.py`)
add: 2 also for an order, rule or queue the stack does not have; 4 the command ran and what it
found needs a person (a replay that did not complete, messages that failed again, a reproduction
whose history differs); 5 the stack cannot be reached.
`connect` and `doctor` (`onboarding/commands.py`) use the same codes: 2 also for a credential
connect was given that Amazon or Commerce refuses (nothing stored); 4 a check that failed.
The Orders view commands (`orders list|show`; `orders_commands.py`) add: 2 also for a filter the API
refuses (its 400 message) and for an order the channel does not have (its 404).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PAGE_PORT = 4569  # the orders page (also `local up`'s default)
DEMO_SCENARIOS = [ROOT / "scenarios" / "demo-guest-and-fba.json", ROOT / "scenarios" / "demo-customer-accounts.json"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_YET = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="amazon-channel", description="Amazon sales channel for Adobe Commerce: local tools."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="play a scenario on the embedded local stack and write the result")
    sim.add_argument("scenario", nargs="?", help="scenario file (shared/scenario-format.md, v1)")
    sim.add_argument("--out", help="result file (default: standard output)")
    sim.add_argument("--log", help="write the handlers' logs here (default: a temporary file)")
    sim.add_argument(
        "--endpoint",
        help="send the steps to a running `amazon-channel local up` at this URL "
        "(e.g. http://127.0.0.1:4566) instead of a new embedded stack",
    )
    demo = sub.add_parser("demo", help="play the demo scenarios and print each order's lifecycle")
    demo.add_argument("--log", help="write the handlers' logs here (default: a temporary file)")
    retry = sub.add_parser(
        "retry", help="import a blocked (Error) order again at once, without waiting for the next sync"
    )
    retry.add_argument("order_id", help="the Amazon order id")
    retry.add_argument(
        "--scenario", required=True, help="the embedded stack to retry on: play this scenario first, then retry"
    )
    retry.add_argument(
        "--out", help="write the retry outcome and the scenario's result here (default: standard output)"
    )
    retry.add_argument("--log", help="write the handlers' logs here (default: a temporary file)")
    from .orders_commands import add_orders_parser

    add_orders_parser(sub)  # orders list | orders show (the Orders view)
    from .local_stack_commands import add_local_parser

    add_local_parser(sub)  # local up | down | status | env-json | hold | release
    from .debugging.commands import COMMANDS as DEBUGGING
    from .debugging.commands import add_replay_option
    from .debugging.commands import register as add_debugging

    add_replay_option(sim)  # simulate --replay ORDER.jsonl
    add_debugging(sub)  # replay | export | redrive | trace
    from . import secrets_commands
    from .onboarding.commands import COMMANDS as ONBOARDING
    from .onboarding.commands import register as add_onboarding

    add_onboarding(sub)  # connect | doctor
    secrets_commands.register(sub)  # rotate-lwa-secret
    args = parser.parse_args(argv)
    if args.command in ONBOARDING:
        from .onboarding.commands import run as run_onboarding

        return run_onboarding(args)
    if args.command == secrets_commands.COMMAND:
        return secrets_commands.run(args)
    if args.command in DEBUGGING or (args.command == "simulate" and (args.replay or not args.scenario)):
        from .debugging.commands import run as run_debugging

        return run_debugging(args)

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if args.command == "local":
        from .local_stack_commands import run_local

        return run_local(args)
    if args.command == "simulate" and args.endpoint:
        from .local_stack_commands import simulate_remote

        return simulate_remote(args.scenario, args.endpoint, args.out)
    log_path = args.log or os.path.join(tempfile.gettempdir(), f"amazon-channel-{os.getpid()}.log")
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            if args.command == "simulate":
                return _simulate(args.scenario, args.out, log)
            if args.command == "retry":
                return _retry(args.order_id, args.scenario, args.out, log)
            if args.command == "orders":
                from .orders_commands import run_orders

                return run_orders(args, log)
            return _demo(log)
    except Exception as e:
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


def _retry(order_id: str, path: str, out: str | None, log) -> int:
    """Play the scenario on the embedded stack, then retry the order at once and settle."""
    from .player import NotSupportedYet, Player
    from .scenario import ScenarioError, load

    scenario = load(path)
    for step in scenario.steps:
        if step.do in _not_yet():
            raise NotSupportedYet(f"{scenario.path}: {step.where()}: {_not_yet()[step.do]}")
    if order_id not in {o["id"] for o in scenario.orders}:
        raise ScenarioError(f"{path}: retry: unknown order id {order_id!r} (the scenario never placed it)")
    with Player(scenario, log_stream=log) as player:
        player.play()
        outcome = player.retry(order_id)
        player.stack.settle()
        result = {"retry": outcome, "result": player.result()}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return EXIT_OK


def _not_yet() -> dict:
    from . import player

    return getattr(player, "NOT_YET", {})


def _demo(log, serve: bool | None = None, port: int = DEFAULT_PAGE_PORT) -> int:
    """Play the demo scenarios; the last one's stack then serves the orders page showing its orders
    (until Ctrl-C when run from a terminal; `serve=False` only prints where it was)."""
    from rich.console import Console

    from .lifecycle import lifecycle_tables
    from .player import Player
    from .scenario import load

    console = Console()
    console = Console(width=max(console.width, 132))
    for i, path in enumerate(DEMO_SCENARIOS):
        scenario = load(path)
        console.rule(f"[bold]{scenario.name}")
        with Player(scenario, log_stream=log) as player:
            with console.status("playing on the embedded stack..."):
                result = player.play()
            for table in lifecycle_tables(result):
                console.print(table)
            if i == len(DEMO_SCENARIOS) - 1:
                _serve_demo_page(console, player, sys.stdin.isatty() if serve is None else serve, port)
    return EXIT_OK


def _serve_demo_page(console, player, serve: bool, port: int) -> None:
    from .orders_page_local import DEMO_PASSWORD, serve_orders_page

    with serve_orders_page(player.stack, port=port) as url:
        console.print(
            f"\n[bold]The demo's orders on the orders page:[/bold] {url}/page/orders\n"
            f"  sign in as demo-operator (acts) or demo-viewer (reads), password {DEMO_PASSWORD}"
            + (
                "\n  Ctrl-C to stop"
                if serve
                else "\n  (served while the demo runs: `./dev demo` in a terminal keeps it up)"
            )
        )
        if serve:
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
