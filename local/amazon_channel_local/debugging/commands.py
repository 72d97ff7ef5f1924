"""The debugging commands of `amazon-channel`: replay, export, redrive, trace, and
`simulate --replay`. `cli.py` registers them (`register`) and hands them their parsed arguments
(`run`); tests may call `main(argv, handle=...)` with an embedded stack's handle.

Every command's errors are one line on standard error (`amazon-channel <command>: ...`), with a
traceback only under `--debug`. Exit codes: 0 done; 1 unexpected failure; 2 invalid command line
or input, or something the stack does not have (an order, a rule, a queue); 4 the command ran and
what it found needs a person (a replay that failed or did not finish, messages that failed again
after a redrive, a local reproduction whose history differs); 5 the stack cannot be reached (no
such stack, no credentials, the endpoint is down).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

from .errors import EXIT_ATTENTION, EXIT_FAILED, EXIT_OK, CommandError, InvalidInput, explain_aws_error
from .handle import StackHandle, from_arguments

COMMANDS = ("replay", "export", "redrive", "trace")
_STACK_HELP = (
    "Which stack: --stack NAME (deployed; CloudFormation in your AWS account) or --endpoint URL "
    "(a local stack started by `amazon-channel local up`); defaults from $AMAZON_CHANNEL_STACK "
    "and $AMAZON_CHANNEL_ENDPOINT."
)
_EXIT_CODES = (
    "exit codes: 0 done; 1 unexpected failure; 2 invalid arguments or unknown order/rule/queue; "
    "4 done, but the result needs attention; 5 the stack cannot be reached"
)


# -- the command line -----------------------------------------------------------------------------
def register(sub: Any) -> None:
    """Add the debugging commands to `amazon-channel`'s subcommands."""

    p = sub.add_parser(
        "replay",
        help="replay archived EventBridge events to the stack's rules",
        epilog=_EXIT_CODES,
        description=(
            "Start an EventBridge replay of the bus archive for a time window, filtered to the named "
            "rules (all the stack's rules if none is named), follow it to completion, wait for the "
            "handlers, and report the events replayed and what each handler made of them. The "
            "handlers recognise replayed events (`replay-name`) and change nothing twice."
        ),
    )
    p.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="T1",
        help="start of the window: ISO-8601 (2026-11-26T10:00:00Z), or a time ago (30m, 2h, 7d)",
    )
    p.add_argument(
        "--to", dest="end", default="now", metavar="T2", help="end of the window: like --from, or now (the default)"
    )
    p.add_argument(
        "--rule",
        action="append",
        metavar="NAME",
        help="a rule to replay to, by logical id (FbaOrderShippedRule or FbaOrderShipped), name or ARN; "
        "repeat for several",
    )
    p.add_argument("--name", help="the replay's name (default: amazon-channel-<time>-<random>)")
    p.add_argument(
        "--timeout", type=float, default=3600, metavar="SECONDS", help="how long to follow the replay (default: 3600)"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=300,
        metavar="SECONDS",
        help="how long to wait for the handlers afterwards (default: 300)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _stack_options(p)

    p = sub.add_parser(
        "export",
        help="write one order's notifications and history as JSON lines",
        epilog=_EXIT_CODES,
        description=(
            "Write the order's notifications with their timestamps (the ORDER_CHANGE notifications "
            "and Commerce shipment events the channel received, the archived bus events about it) "
            "and its history, one JSON object per line: `amazon-channel export ID > order.jsonl`. "
            "Personal data is replaced by stable stand-ins unless --include-pii. Play the file "
            "locally with `amazon-channel simulate --replay order.jsonl`."
        ),
    )
    p.add_argument("order_id", metavar="ORDER_ID", help="the Amazon order number")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.add_argument(
        "--include-pii", action="store_true", help="keep buyer names, emails, addresses and postal codes as they are"
    )
    p.add_argument(
        "--no-bus-events",
        dest="bus_events",
        action="store_false",
        help="skip reading the bus archive (it is read with a private, filtered replay)",
    )
    _stack_options(p)

    p = sub.add_parser(
        "redrive",
        help="show the dead-letter queues and move their messages back",
        epilog=_EXIT_CODES,
        description=(
            "Show each dead-letter queue's depth with the recorded reason for a sample of its "
            "messages, move the messages back to their source queue (SQS StartMessageMoveTask, or "
            "the equivalent where the local SQS lacks it), wait for the stack to process them, and "
            "report how many moved and how many failed again."
        ),
    )
    p.add_argument(
        "queue",
        nargs="?",
        metavar="QUEUE",
        help="one DLQ, by logical id (NotificationsDeadLetterQueue or Notifications), queue name or URL (default: all)",
    )
    p.add_argument("--dry-run", action="store_true", help="only show the queues; move nothing")
    p.add_argument("--sample", type=int, default=5, metavar="N", help="messages to show per queue (default: 5)")
    p.add_argument(
        "--wait",
        type=float,
        default=300,
        metavar="SECONDS",
        help="how long to wait for the stack to process the moved messages (default: 300)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _stack_options(p)

    p = sub.add_parser(
        "trace",
        help="print one order's timeline",
        epilog=_EXIT_CODES,
        description=(
            "The order's timeline: each notification, status change, workflow step with its "
            "duration, Commerce and SP-API call with its request id, and error, with the Step "
            "Functions execution history merged in."
        ),
    )
    p.add_argument("order_id", metavar="ORDER_ID", help="the Amazon order number")
    p.add_argument("--json", action="store_true", help="print the timeline as JSON")
    _stack_options(p)


def _stack_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("stack", _STACK_HELP)
    g.add_argument("--stack", metavar="NAME", help="deployed stack name")
    g.add_argument("--endpoint", metavar="URL", help="local stack endpoint (amazon-channel local up)")
    g.add_argument("--region", help="AWS region (default: your AWS configuration; us-east-1 for --endpoint)")
    g.add_argument("--profile", help="AWS profile for --stack")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


def add_replay_option(simulate: argparse.ArgumentParser) -> None:
    simulate.add_argument(
        "--replay",
        metavar="ORDER.jsonl",
        help="instead of a scenario: play an order exported with `amazon-channel export` on a "
        "fresh embedded stack and compare its history with the exported one",
    )


def main(argv: list[str] | None = None, handle: StackHandle | None = None, *, time_scale: float = 1.0) -> int:
    """The debugging commands alone (tests pass an embedded stack's handle, and may speed up the
    Step Functions Retry intervals of `simulate --replay` with `time_scale`)."""
    parser = argparse.ArgumentParser(prog="amazon-channel")
    parser.add_argument("--debug", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    sim = sub.add_parser("simulate")
    sim.add_argument("scenario", nargs="?")
    sim.add_argument("--out")
    sim.add_argument("--log")
    add_replay_option(sim)
    return run(parser.parse_args(argv), handle=handle, time_scale=time_scale)


def run(args: argparse.Namespace, handle: StackHandle | None = None, *, time_scale: float = 1.0) -> int:
    command = args.command
    try:
        if command == "simulate":
            return _simulate_replay(args, time_scale)
        if handle is None:
            handle = from_arguments(args.stack, args.endpoint, args.region, args.profile)
        return {"replay": _replay, "export": _export, "redrive": _redrive, "trace": _trace}[command](args, handle)
    except KeyboardInterrupt:
        print(f"amazon-channel {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if getattr(args, "debug", False):
            raise
        if not isinstance(e, CommandError):
            e = explain_aws_error(e, handle.label if handle else "stack") or e
        if isinstance(e, CommandError):
            print(f"amazon-channel {command}: {e}", file=sys.stderr)
            return e.exit_code
        first = str(e).splitlines()[0] if str(e) else ""
        print(f"amazon-channel {command}: {type(e).__name__}: {first} (--debug shows the traceback)", file=sys.stderr)
        return EXIT_FAILED


def _console(stderr: bool = False):
    from rich.console import Console

    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)


# -- replay ---------------------------------------------------------------------------------------
def _replay(args, handle: StackHandle) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .replay import plan, replay
    from .times import iso, parse_time

    start, end = parse_time(args.start, option="--from"), parse_time(args.end, option="--to")
    planned = plan(handle, start, end, args.rule, name=args.name)
    start, end = planned.start, planned.end
    err = _console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(f"replaying {iso(start)} to {iso(end)}", total=1.0)

        def on_progress(done: float, runs) -> None:
            states = ", ".join(f"{r.name}: {r.state}" for r in runs)
            progress.update(task, completed=done, description=f"replay {states}")

        report = replay(handle, planned, on_progress=on_progress, timeout=args.timeout, drain_timeout=args.wait)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _print_replay(report)
    return EXIT_OK if report.completed and not report.still_busy else EXIT_ATTENTION


def _print_replay(report) -> None:
    from rich.table import Table

    from .times import iso

    out = _console()
    for r in report.runs:
        out.print(
            f"replay [bold]{r.name}[/]: {r.state}{' (' + r.reason + ')' if r.reason else ''}; "
            f"archive {r.bus.archive_name}, {iso(report.start)} to {iso(report.end)}; "
            f"rules: {', '.join(x.logical_id for x in r.rules)}"
        )
    out.print(f"events replayed and handled by the stack: [bold]{len(report.receipts)}[/]")
    if report.receipts:
        t = Table("handler", "event", "outcome", "events")
        for handler, detail_type, result, n in report.by_outcome():
            t.add_row(handler, detail_type, result, str(n))
        out.print(t)
    if report.outside_handlers:
        out.print(
            f"also delivered to queues read outside the stack: {', '.join(report.outside_handlers)} "
            "(their readers see `replay-name` on these events)"
        )
    if report.still_busy:
        out.print(f"[red]not yet processed[/] when the wait ended: {', '.join(report.still_busy)}")
    if not report.completed:
        out.print("[red]the replay did not complete[/]: aws events describe-replay --replay-name NAME")


# -- export ---------------------------------------------------------------------------------------
def _export(args, handle: StackHandle) -> int:
    from .export import dumps, export_records
    from .order_data import read_order

    err = _console(stderr=True)
    with err.status(f"reading order {args.order_id} from {handle.label}") as status:
        records = read_order(handle, args.order_id, with_bus_events=args.bus_events, on_progress=status.update)
    text = dumps(export_records(records, source=handle.label, include_pii=args.include_pii))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    err.print(
        f"exported {args.order_id}: {len(records.notifications)} notifications, {len(records.bus_events)} "
        f"bus events, {len(records.history)} history entries"
        + (f" to {args.out}" if args.out else "")
        + ("" if args.include_pii else " (personal data redacted)")
    )
    return EXIT_OK


# -- redrive --------------------------------------------------------------------------------------
def _redrive(args, handle: StackHandle) -> int:
    from rich.table import Table

    from .redrive import dead_letter_queues, inspect, redrive

    if args.sample < 0:
        raise InvalidInput("--sample must be 0 or more")
    reports = [inspect(handle, d, args.sample) for d in dead_letter_queues(handle, args.queue)]
    out = _console()
    if not args.json:
        t = Table(
            "dead-letter queue",
            "source queue",
            "depth",
            "sample: message, reason",
            title=handle.label,
            title_justify="left",
        )
        for r in reports:
            sample = "\n".join(f"{s.sent_at or ''} {s.about}: {s.reason}" for s in r.samples)
            t.add_row(r.dlq.name, r.dlq.source.logical_id, str(r.depth), sample)
        out.print(t)
    if not args.dry_run and any(r.depth for r in reports):
        err = _console(stderr=True)
        with err.status("redriving") as status:
            redrive(handle, reports, drain_timeout=args.wait, on_progress=status.update)
    attention = any((r.failed_again or 0) or r.not_moved or (r.unprocessed or 0) for r in reports)
    if args.json:
        print(
            json.dumps(
                {"stack": handle.label, "dry_run": args.dry_run, "queues": [r.as_json() for r in reports]}, indent=2
            )
        )
    elif not args.dry_run:
        moved = [r for r in reports if r.moved is not None]
        if not moved:
            out.print("nothing to move: every dead-letter queue is empty")
        else:
            t = Table("dead-letter queue", "moved to", "moved", "how", "failed again", "not processed yet", "note")
            for r in moved:
                t.add_row(
                    r.dlq.name,
                    r.dlq.source.logical_id,
                    str(r.moved),
                    r.method or "",
                    "" if r.failed_again is None else str(r.failed_again),
                    "" if r.unprocessed is None else str(r.unprocessed),
                    r.note,
                )
            out.print(t)
    return EXIT_ATTENTION if attention else EXIT_OK


# -- trace ----------------------------------------------------------------------------------------
def _trace(args, handle: StackHandle) -> int:
    from .trace import order_trace, table

    trace = order_trace(handle, args.order_id)
    if args.json:
        print(json.dumps(trace.as_json(), indent=2))
    else:
        _console().print(table(trace))
    return EXIT_OK


# -- simulate --replay ----------------------------------------------------------------------------
def _simulate_replay(args, time_scale: float) -> int:
    from .export import load
    from .reproduce import reproduce, table

    if not args.replay:
        raise InvalidInput("simulate needs a scenario file, or --replay ORDER.jsonl")
    if args.scenario:
        raise InvalidInput("give a scenario file or --replay ORDER.jsonl, not both")
    records = load(args.replay)
    log_path = args.log or os.path.join(tempfile.gettempdir(), f"amazon-channel-{os.getpid()}.log")
    err = _console(stderr=True)
    with open(log_path, "a", encoding="utf-8") as log, err.status("reproducing") as status:
        try:
            rep = reproduce(records, log_stream=log, time_scale=time_scale, on_progress=status.update)
        except CommandError:
            raise
        except Exception as e:
            if getattr(args, "debug", False):
                raise
            raise CommandError(
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} (handler logs: {log_path})"
            ) from None
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(rep.as_json(), f, indent=2)
            f.write("\n")
    out = _console()
    out.print(table(rep))
    for note in rep.notes:
        out.print(f"note: {note}")
    if rep.exported_bus_events or rep.local_bus_events:
        out.print(
            f"bus events {'match' if rep.bus_events_match else 'differ'}: exported "
            f"{', '.join(rep.exported_bus_events) or '-'}; local {', '.join(rep.local_bus_events) or '-'}"
        )
    differing = sum(r.op not in ("equal", "moved") for r in rep.rows)
    moved = sum(r.op == "moved" for r in rep.rows) // 2
    if rep.matches:
        out.print(
            f"[green]histories match[/]: {len(rep.rows) - moved} entries, same kinds and statuses"
            + (f" ({moved} in another order: concurrent steps, marked ~)" if moved else "")
            + f" (handler logs: {log_path})"
        )
        return EXIT_OK
    out.print(
        f"[red]histories differ[/] at {differing} of {len(rep.rows)} entries; channel status exported "
        f"{rep.exported_status}, local {rep.local_status} (handler logs: {log_path})"
    )
    return EXIT_ATTENTION


__all__ = ["COMMANDS", "add_replay_option", "main", "register", "run"]
