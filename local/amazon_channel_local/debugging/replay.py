"""`amazon-channel replay`: replay a time window of a bus archive to some of the stack's rules.

One EventBridge replay per bus (the channel bus, and the Commerce partner bus when the stack has
one), each filtered to the chosen rules (`Destination.FilterArns`). The replay is followed to its
end; then the command waits until the stack's handlers have drained the rules' queues, and reads
the receipts the handlers wrote for each replayed event (see `amazon_channel.notifications`): how many
events were replayed, to which handler, and what each handler made of them.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .errors import InvalidInput
from .handle import StackHandle
from .times import iso
from .topology import Bus, Rule, buses, queues, rules, select_rules, wait_until_drained

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


@dataclass
class ReplayRun:
    name: str
    bus: Bus
    rules: list[Rule]
    state: str = "STARTING"
    reason: str | None = None
    last_replayed: datetime | None = None


@dataclass
class ReplayReport:
    start: datetime
    end: datetime
    runs: list[ReplayRun]
    receipts: list[dict] = field(default_factory=list)
    outside_handlers: list[str] = field(default_factory=list)  # target queues no function of the stack reads
    still_busy: list[str] = field(default_factory=list)  # queues the handlers had not drained in time

    @property
    def completed(self) -> bool:
        return all(r.state == "COMPLETED" for r in self.runs)

    def by_outcome(self) -> list[tuple[str, str, str, int]]:
        """(handler, detail type, result, count), most frequent first."""
        counts = Counter((r["handler"], r.get("detail_type") or "", r["result"]) for r in self.receipts)
        return [(h, d, res, n) for (h, d, res), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def as_json(self) -> dict:
        return {
            "window": {"from": iso(self.start), "to": iso(self.end)},
            "replays": [
                {
                    "name": r.name,
                    "bus": r.bus.name,
                    "archive": r.bus.archive_name,
                    "state": r.state,
                    "reason": r.reason,
                    "rules": [x.logical_id for x in r.rules],
                }
                for r in self.runs
            ],
            "events_handled": len(self.receipts),
            "by_outcome": [
                {"handler": h, "detail_type": d, "result": res, "events": n} for h, d, res, n in self.by_outcome()
            ],
            "outside_handlers": self.outside_handlers,
            "still_busy": self.still_busy,
        }


@dataclass
class ReplayPlan:
    start: datetime
    end: datetime
    runs: list[ReplayRun]


def plan(
    handle: StackHandle, start: datetime, end: datetime, rule_names: list[str] | None = None, *, name: str | None = None
) -> ReplayPlan:
    """Check the window and the rules, find the archives: one replay per bus. Starts nothing."""
    now = datetime.now(UTC)
    end = min(end, now)  # EventBridge refuses an end in the future
    if start >= end:
        raise InvalidInput(f"--from {iso(start)} must be before --to {iso(end)} (and before now)")
    stack_buses = buses(handle)
    chosen = select_rules(rules(handle, stack_buses), rule_names)
    if not chosen:
        raise InvalidInput(f"{handle.label} has no EventBridge rules to replay to")
    groups: dict[str, list[Rule]] = {}
    for r in chosen:
        groups.setdefault(r.bus.name, []).append(r)
    base = name or f"amazon-channel-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
    runs = []
    for n, (bus_name, bus_rules) in enumerate(sorted(groups.items())):
        bus = bus_rules[0].bus
        if not bus.archive_arn:
            raise InvalidInput(
                f"bus {bus_name} has no archive in the stack: "
                f"{', '.join(r.logical_id for r in bus_rules)} cannot be replayed"
            )
        runs.append(ReplayRun(base if n == 0 else f"{base}-{n + 1}", bus, bus_rules))
    return ReplayPlan(start, end, runs)


def replay(
    handle: StackHandle,
    planned: ReplayPlan,
    *,
    on_progress: Callable[[float, list[ReplayRun]], None] | None = None,
    timeout: float = 3600,
    drain_timeout: float = 300,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Start the planned replays, follow them to their end, wait for the handlers, read the receipts."""
    start, end, runs = planned.start, planned.end, planned.runs
    events = handle.client("events")
    for run in runs:
        events.start_replay(
            ReplayName=run.name,
            Description=f"amazon-channel replay of {', '.join(r.logical_id for r in run.rules)}",
            EventSourceArn=run.bus.archive_arn,
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": run.bus.arn, "FilterArns": [r.arn for r in run.rules]},
        )
    _follow(handle, runs, start, end, on_progress=on_progress, timeout=timeout, poll=poll, sleep=sleep)

    report = ReplayReport(start=start, end=end, runs=runs)
    stack_queues = {q.arn: q for q in queues(handle)}
    targets = {arn for run in runs for r in run.rules for arn in r.target_arns}
    drained = [stack_queues[a].url for a in sorted(targets) if a in stack_queues and stack_queues[a].consumed]
    report.outside_handlers = sorted(
        stack_queues[a].logical_id if a in stack_queues else a
        for a in targets
        if a not in stack_queues or not stack_queues[a].consumed
    )
    busy = wait_until_drained(handle, drained, drain_timeout, sleep=sleep) if report.completed else []
    by_url = {q.url: q.logical_id for q in stack_queues.values()}
    report.still_busy = [by_url.get(u, u) for u in busy]
    report.receipts = receipts(handle, [r.name for r in runs])
    return report


def receipts(handle: StackHandle, replay_names: list[str]) -> list[dict]:
    from amazon_channel.adapters.dynamodb_notifications import DynamoDbNotifications

    log = DynamoDbNotifications(handle.need("OrdersTable"), handle.client("dynamodb"))
    return [r for name in replay_names for r in log.replayed(name)]


def _follow(
    handle: StackHandle,
    runs: list[ReplayRun],
    start: datetime,
    end: datetime,
    *,
    on_progress,
    timeout: float,
    poll: float,
    sleep,
) -> None:
    events = handle.client("events")
    deadline = time.monotonic() + timeout
    span = max((end - start).total_seconds(), 1e-6)
    while True:
        for run in runs:
            if run.state in TERMINAL:
                continue
            d = events.describe_replay(ReplayName=run.name)
            run.state, run.reason = d.get("State", run.state), d.get("StateReason")
            run.last_replayed = d.get("EventLastReplayedTime") or run.last_replayed
        if on_progress is not None:
            done = [
                1.0
                if r.state in TERMINAL
                else max(0.0, min(1.0, ((r.last_replayed - start).total_seconds() / span) if r.last_replayed else 0.0))
                for r in runs
            ]
            on_progress(sum(done) / len(done), runs)
        if all(r.state in TERMINAL for r in runs) or time.monotonic() > deadline:
            return
        sleep(poll)
