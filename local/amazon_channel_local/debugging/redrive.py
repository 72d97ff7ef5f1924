"""`amazon-channel redrive [QUEUE]`: what sits in the dead-letter queues, and moving it back.

Each dead-letter queue of the stack is shown with its depth and, for a sample of its messages,
why they are there: the `reason` a handler parked them with (permanently-bad input), the error
EventBridge recorded when it could not deliver an event (`ERROR_CODE`/`ERROR_MESSAGE`), or, with
neither, "failed maxReceiveCount deliveries" (a transient failure that lasted; see the handler's
logs). The sample is read without taking the messages (visibility 0) and shows ids, never bodies.

Moving: SQS `StartMessageMoveTask` from the DLQ to its source queue (on AWS; on a local stack
when its SQS has it); otherwise the equivalent, message by message: receive, send to the source
queue with the same body and attributes, delete. Then the command waits until the stack's
handlers have processed the source queue and reports what came back to the DLQ ("failed again").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from amazon_channel.domain import commerce_events

from .errors import InvalidInput
from .handle import StackHandle
from .topology import Queue, depth, queues, wait_until_drained

SAMPLE = 10
_EVENTBRIDGE_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE", "RULE_ARN", "TARGET_ARN")


@dataclass
class DeadLetterQueue:
    dlq: Queue
    source: Queue
    max_receive_count: int | None = None

    @property
    def name(self) -> str:
        return self.dlq.logical_id


@dataclass
class Sample:
    message_id: str
    about: str  # what the message is about, without personal data
    reason: str
    sent_at: str | None = None


@dataclass
class QueueReport:
    dlq: DeadLetterQueue
    depth: int
    samples: list[Sample] = field(default_factory=list)
    moved: int | None = None
    method: str | None = None  # StartMessageMoveTask | receive-send-delete
    not_moved: int = 0
    failed_again: int | None = None
    unprocessed: int | None = None  # still in the source queue after the wait
    note: str = ""

    def as_json(self) -> dict:
        return {
            "queue": self.dlq.name,
            "source": self.dlq.source.logical_id,
            "depth": self.depth,
            "sample": [s.__dict__ for s in self.samples],
            "moved": self.moved,
            "method": self.method,
            "not_moved": self.not_moved,
            "failed_again": self.failed_again,
            "unprocessed": self.unprocessed,
            "note": self.note,
        }


def dead_letter_queues(handle: StackHandle, name: str | None = None) -> list[DeadLetterQueue]:
    all_queues = queues(handle)
    by_arn = {q.arn: q for q in all_queues}
    sqs = handle.client("sqs")
    out = []
    for q in all_queues:
        if q.dead_letter_arn and q.dead_letter_arn in by_arn:
            attrs = sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["RedrivePolicy"])["Attributes"]
            count = json.loads(attrs.get("RedrivePolicy") or "{}").get("maxReceiveCount")
            out.append(DeadLetterQueue(by_arn[q.dead_letter_arn], q, int(count) if count else None))
    out.sort(key=lambda d: d.name)
    if name is None:
        return out
    key = name.strip().lower()
    chosen = [
        d
        for d in out
        if key
        in {
            d.dlq.logical_id.lower(),
            d.dlq.name.lower(),
            d.dlq.url.lower(),
            d.dlq.arn.lower(),
            d.source.logical_id.lower(),
            d.source.name.lower(),
            d.dlq.logical_id.lower().removesuffix("deadletterqueue"),
            d.source.logical_id.lower().removesuffix("queue"),
        }
    ]
    if not chosen:
        raise InvalidInput(
            f"no dead-letter queue {name!r} in the stack (its DLQs: {', '.join(d.name for d in out) or 'none'})"
        )
    return chosen


def inspect(handle: StackHandle, dlq: DeadLetterQueue, sample: int = SAMPLE) -> QueueReport:
    report = QueueReport(dlq, depth(handle, dlq.dlq.url)["visible"])
    if report.depth:
        report.samples = _sample(handle, dlq, sample)
    return report


def redrive(
    handle: StackHandle,
    reports: list[QueueReport],
    *,
    drain_timeout: float = 300,
    on_progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Move every message of each DLQ back to its source queue; wait; count what failed again."""
    for r in reports:
        if not r.depth:
            continue
        if on_progress:
            on_progress(f"moving {r.depth} message(s) from {r.dlq.name} to {r.dlq.source.logical_id}")
        r.moved, r.not_moved, r.method = _move(handle, r.dlq, sleep)
    moved = [r for r in reports if r.moved]
    consumed = [r.dlq.source.url for r in moved if r.dlq.source.consumed]
    if on_progress and consumed:
        on_progress("waiting for the stack to process the moved messages")
    wait_until_drained(handle, consumed, drain_timeout, sleep=sleep)
    for r in moved:
        if r.dlq.source.consumed:
            r.failed_again = depth(handle, r.dlq.dlq.url)["visible"]
            r.unprocessed = sum(depth(handle, r.dlq.source.url).values())
        else:
            r.note = f"{r.dlq.source.logical_id} is read outside the stack: not waited for"


def _sample(handle: StackHandle, dlq: DeadLetterQueue, n: int) -> list[Sample]:
    sqs = handle.client("sqs")
    seen: dict[str, Sample] = {}
    for _ in range(3):  # SQS returns a subset per call
        msgs = sqs.receive_message(
            QueueUrl=dlq.dlq.url,
            MaxNumberOfMessages=min(n, 10),
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        for m in msgs:
            if m["MessageId"] not in seen and len(seen) < n:
                seen[m["MessageId"]] = Sample(m["MessageId"], _about(m.get("Body", "")), _reason(m, dlq), _sent_at(m))
        if len(seen) >= n or not msgs:
            break
    return list(seen.values())


def _reason(m: dict, dlq: DeadLetterQueue) -> str:
    attrs = {k: v.get("StringValue") for k, v in (m.get("MessageAttributes") or {}).items()}
    if attrs.get("reason"):
        return f"parked by {attrs.get('source') or 'a handler'}: {attrs['reason']}"
    if attrs.get("ERROR_CODE") or attrs.get("ERROR_MESSAGE"):
        return (
            f"EventBridge could not deliver it: {attrs.get('ERROR_CODE', '')} {attrs.get('ERROR_MESSAGE', '')}".strip()
        )
    receives = dlq.max_receive_count
    return (
        f"failed {receives} deliveries (maxReceiveCount) with no recorded reason: see the handler's logs"
        if receives
        else "no recorded reason"
    )


def _about(body: str) -> str:
    """Ids only: the order and what the message is, never the body itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"not JSON ({len(body.encode())} bytes)"
    if not isinstance(data, dict):
        return f"JSON {type(data).__name__} ({len(body.encode())} bytes)"
    change = (
        (data.get("Payload") or {}).get("OrderChangeNotification") if isinstance(data.get("Payload"), dict) else None
    )
    if isinstance(change, dict):
        status = (change.get("Summary") or {}).get("OrderStatus") if isinstance(change.get("Summary"), dict) else None
        return f"ORDER_CHANGE {change.get('AmazonOrderId', '?')} {status or ''}".strip()
    if "detail-type" in data:
        detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
        oid = detail.get("amazon_order_id")
        value = commerce_events.ids(detail)
        ref = oid or (f"shipment {value.get('entity_id')} of Commerce order {value.get('order_id')}" if value else "")
        return f"{data['detail-type']} {ref}".strip()
    if "NotificationType" in data:
        return f"{data.get('NotificationType')} notification"
    return f"JSON object ({len(body.encode())} bytes)"


def _sent_at(m: dict) -> str | None:
    from .times import iso

    sent = (m.get("Attributes") or {}).get("SentTimestamp")
    return iso(int(sent) / 1000) if sent else None


def _move(handle: StackHandle, dlq: DeadLetterQueue, sleep) -> tuple[int, int, str]:
    sqs = handle.client("sqs")
    try:
        sqs.start_message_move_task(SourceArn=dlq.dlq.arn, DestinationArn=dlq.source.arn)
    except Exception as e:
        if handle.kind == "aws" and not isinstance(e, NotImplementedError):
            raise
        moved, failed = _move_one_by_one(sqs, dlq)
        return moved, failed, "receive-send-delete"
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq.dlq.arn, MaxResults=1).get("Results", [])
        task = tasks[0] if tasks else {}
        if task.get("Status") in ("COMPLETED", "CANCELLED", "FAILED"):
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            to_move = int(task.get("ApproximateNumberOfMessagesToMove", moved) or moved)
            return moved, max(0, to_move - moved), "StartMessageMoveTask"
        sleep(2)


def _move_one_by_one(sqs, dlq: DeadLetterQueue) -> tuple[int, int]:
    """StartMessageMoveTask's equivalent: same body, same message attributes, then delete."""
    moved = failed = 0
    while True:
        msgs = sqs.receive_message(
            QueueUrl=dlq.dlq.url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not msgs:
            return moved, failed
        entries = []
        for i, m in enumerate(msgs):
            entry = {"Id": str(i), "MessageBody": m["Body"]}
            attrs = {
                k: {kk: vv for kk, vv in v.items() if kk in ("DataType", "StringValue", "BinaryValue")}
                for k, v in (m.get("MessageAttributes") or {}).items()
            }
            if attrs:
                entry["MessageAttributes"] = attrs
            entries.append(entry)
        result = sqs.send_message_batch(QueueUrl=dlq.source.url, Entries=entries)
        sent = {e["Id"] for e in result.get("Successful", [])}
        failed += len(msgs) - len(sent)
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs) if str(i) in sent]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq.dlq.url, Entries=done)
        moved += len(done)
        if not sent:  # nothing could be sent: stop rather than spin (they come back after 60 s)
            return moved, failed
