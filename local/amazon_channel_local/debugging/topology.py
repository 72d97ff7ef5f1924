"""What the commands need to know of a stack's wiring: its buses, archives, rules and queues,
which queue is whose dead-letter queue, and which queues the stack's functions consume."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import InvalidInput
from .handle import StackHandle


@dataclass
class Bus:
    logical_id: str
    name: str
    arn: str
    archive_name: str | None = None
    archive_arn: str | None = None


@dataclass
class Rule:
    logical_id: str
    name: str
    arn: str
    bus: Bus
    target_arns: list[str] = field(default_factory=list)


@dataclass
class Queue:
    logical_id: str
    url: str
    arn: str
    name: str
    dead_letter_arn: str | None = None  # its RedrivePolicy's target
    consumed: bool = False  # an event source mapping of the stack reads it


def buses(handle: StackHandle) -> list[Bus]:
    """The stack's event buses, each with its archive when the stack has one for it."""
    events = handle.client("events")
    out = []
    for lid, name in sorted(handle.of_type("AWS::Events::EventBus").items()):
        out.append(Bus(lid, name, events.describe_event_bus(Name=name)["Arn"]))
    by_arn = {b.arn: b for b in out}
    for _lid, archive in sorted(handle.of_type("AWS::Events::Archive").items()):
        a = events.describe_archive(ArchiveName=archive)
        bus = by_arn.get(a.get("EventSourceArn", ""))
        if bus is not None and bus.archive_name is None:
            bus.archive_name, bus.archive_arn = a["ArchiveName"], a["ArchiveArn"]
    return out


def rules(handle: StackHandle, stack_buses: list[Bus] | None = None) -> list[Rule]:
    """The stack's EventBridge rules with their ARNs, buses and targets."""
    events = handle.client("events")
    wanted = {_rule_name(pid): lid for lid, pid in handle.of_type("AWS::Events::Rule").items()}
    out = []
    for bus in stack_buses if stack_buses is not None else buses(handle):
        token = None
        while True:
            page = events.list_rules(EventBusName=bus.name, **({"NextToken": token} if token else {}))
            for r in page.get("Rules", []):
                if r["Name"] in wanted:
                    targets = events.list_targets_by_rule(Rule=r["Name"], EventBusName=bus.name).get("Targets", [])
                    out.append(Rule(wanted[r["Name"]], r["Name"], r["Arn"], bus, [t["Arn"] for t in targets]))
            token = page.get("NextToken")
            if not token:
                break
    return sorted(out, key=lambda r: r.logical_id)


def select_rules(all_rules: list[Rule], names: list[str] | None) -> list[Rule]:
    """The rules named on the command line (logical id, with or without `Rule`, rule name or ARN)."""
    if not names:
        return list(all_rules)
    chosen = []
    for name in names:
        key = name.strip().lower()
        match = [
            r
            for r in all_rules
            if key in (r.logical_id.lower(), r.logical_id.lower().removesuffix("rule"), r.name.lower(), r.arn.lower())
        ]
        if not match:
            known = ", ".join(r.logical_id for r in all_rules) or "none"
            raise InvalidInput(f"no rule {name!r} in the stack (its rules: {known})")
        chosen += [r for r in match if r not in chosen]
    return chosen


def queues(handle: StackHandle) -> list[Queue]:
    sqs = handle.client("sqs")
    out = []
    for lid, url in sorted(handle.of_type("AWS::SQS::Queue").items()):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
        policy = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else {}
        arn = attrs["QueueArn"]
        out.append(Queue(lid, url, arn, arn.split(":")[-1], policy.get("deadLetterTargetArn")))
    consumed = consumed_queue_arns(handle)
    for q in out:
        q.consumed = q.arn in consumed
    return out


def consumed_queue_arns(handle: StackHandle) -> set[str]:
    """Queues that an enabled event source mapping of the stack's functions reads. (A local stack
    polls the queues itself and may keep moto's own mappings disabled: there every mapping counts.)"""
    lam = handle.client("lambda")
    arns = set()
    for uuid in handle.of_type("AWS::Lambda::EventSourceMapping").values():
        try:
            m = lam.get_event_source_mapping(UUID=uuid)
        except Exception:  # noqa: BLE001, S112 - a mapping that cannot be read is not counted
            continue
        if handle.kind != "aws" or m.get("State", "Enabled") not in ("Disabled", "Disabling"):
            arns.add(m["EventSourceArn"])
    return arns


def depth(handle: StackHandle, url: str) -> dict[str, int]:
    a = handle.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(a.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(a.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(a.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def wait_until_drained(
    handle: StackHandle,
    urls: list[str],
    timeout: float,
    *,
    interval: float = 5.0,
    quiet_checks: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Wait until the stack's consumers have emptied these queues. Returns the queues still busy.

    An embedded stack, or `amazon-channel local up`'s, is settled (its handlers run until quiet).
    Elsewhere the queues are polled until every one is empty `quiet_checks` times in a row, or
    `timeout` passes.
    """
    if handle.settle is not None:
        from .handle import SettleUnavailable

        try:
            handle.settle()
            return [u for u in urls if sum(depth(handle, u).values())]
        except SettleUnavailable:
            pass  # a plain moto server: poll
    if handle.kind == "endpoint":
        interval = min(interval, 0.5)  # a local stack answers at once
    deadline = time.monotonic() + timeout
    quiet = 0
    while True:
        busy = [u for u in urls if sum(depth(handle, u).values())]
        quiet = 0 if busy else quiet + 1
        if quiet >= quiet_checks or time.monotonic() > deadline:
            return busy
        sleep(interval)


def _rule_name(physical_id: str) -> str:
    """CloudFormation names a rule `name`, `bus|name` (custom bus) or its ARN, by version."""
    if physical_id.startswith("arn:"):
        return physical_id.rsplit("/", 1)[-1]
    return physical_id.rsplit("|", 1)[-1]
