"""`amazon-channel trace ORDER_ID`: one order's timeline.

Merged by time: each message the channel received (ORDER_CHANGE notifications, Commerce shipment
events), each history entry (status changes, steps, Commerce and SP-API calls with their request
ids, errors), and the workflow execution `mfn-<order id>` from Step Functions (each task with its
duration and attempts, failures with their error, the execution's start and end).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .handle import StackHandle
from .order_data import OrderRecords, execution_history, read_order
from .times import human_duration, iso, seconds_between

#: Step Functions states worth a row: the tasks (workflow steps) and how the execution ends.
_STEP_TYPES = ("Task", "Wait", "Map", "Parallel", "Fail")


@dataclass
class TraceRow:
    at: str
    source: str  # amazon | commerce | channel | workflow
    kind: (
        str  # notification | commerce-event | status | step | sp-api | commerce | error | stale | task | execution ...
    )
    what: str
    duration_s: float | None = None
    request_id: str | None = None  # the SP-API / Commerce call's request id; a notification's or event's id
    error: str | None = None

    @property
    def is_error(self) -> bool:
        return bool(self.error) or self.kind == "error"


@dataclass
class Trace:
    amazon_order_id: str
    summary: dict
    rows: list[TraceRow]

    def as_json(self) -> dict:
        return {
            "amazon_order_id": self.amazon_order_id,
            "order": self.summary,
            "timeline": [asdict(r) for r in self.rows],
        }


def order_trace(handle: StackHandle, amazon_order_id: str) -> Trace:
    records = read_order(handle, amazon_order_id)
    rows = (
        notification_rows(records) + history_rows(records) + workflow_rows(execution_history(handle, amazon_order_id))
    )
    for r in rows:  # one precision (microseconds), so that text order is time order
        r.at = _micro(r.at)
    order = dict(enumerate(rows))
    rows = [order[i] for i in sorted(order, key=lambda i: (order[i].at, i))]
    return Trace(amazon_order_id, summary(records), rows)


def summary(records: OrderRecords) -> dict:
    s = records.state
    return {
        "channel_status": s.channel_status.value if s else None,
        "amazon_status": s.amazon_status.value if s else None,
        "fulfillment": s.fulfillment if s else None,
        "commerce_order": s.commerce.increment_id if s and s.commerce else None,
        "notes": s.notes if s else "",
        "workflow": records.execution.get("status") if records.execution else None,
    }


def notification_rows(records: OrderRecords) -> list[TraceRow]:
    rows = []
    for e in records.notifications:
        if e.source == "amazon":
            what = f"ORDER_CHANGE {e.summary} received" + (f" (Amazon's time {e.occurred_at})" if e.occurred_at else "")
            rows.append(TraceRow(e.at, "amazon", "notification", what, request_id=e.id))
        else:
            rows.append(TraceRow(e.at, "commerce", "commerce-event", f"Commerce event: {e.summary}", request_id=e.id))
    return rows


def history_rows(records: OrderRecords) -> list[TraceRow]:
    rows = []
    for h in records.history:
        source = {"sp-api": "amazon", "commerce": "commerce"}.get(h.kind, "channel")
        rows.append(
            TraceRow(
                h.at,
                source,
                h.kind,
                h.message,
                request_id=h.request_id,
                error=h.data.get("error") if h.kind == "error" else None,
            )
        )
    return rows


def workflow_rows(events: list[dict]) -> list[TraceRow]:
    """Step Functions history as rows: one per task (entered to exited), failures, start and end."""
    rows: list[TraceRow] = []
    open_states: dict[str, dict] = {}
    for ev in events:
        t, at = ev["type"], iso(ev["timestamp"])
        if t == "ExecutionStarted":
            rows.append(TraceRow(at, "workflow", "execution", "Workflow execution started"))
        elif t.endswith("StateEntered"):
            name = ev["stateEnteredEventDetails"]["name"]
            open_states[name] = {"at": at, "type": t.removesuffix("StateEntered"), "attempts": 0, "errors": []}
        elif t in ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"):
            for s in open_states.values():
                s["attempts"] += 1
        elif t in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut", "ActivityFailed"):
            details = next((v for k, v in ev.items() if k.endswith("EventDetails")), {}) or {}
            error = _error_text(details.get("error"), details.get("cause"))
            rows.append(TraceRow(at, "workflow", "task-failed", f"Task failed: {error}", error=details.get("error")))
        elif t.endswith("StateExited"):
            name = ev["stateExitedEventDetails"]["name"]
            entered = open_states.pop(name, None)
            if entered is None or entered["type"] not in _STEP_TYPES:
                continue
            attempts = entered["attempts"]
            what = f"Step {name}" + (f" ({attempts} attempts)" if attempts > 1 else "")
            rows.append(TraceRow(entered["at"], "workflow", "task", what, seconds_between(entered["at"], at)))
        elif t.startswith("Execution") and t != "ExecutionStarted":
            details = next((v for k, v in ev.items() if k.endswith("EventDetails")), {}) or {}
            outcome = t.removeprefix("Execution").lower()
            error = _error_text(details.get("error"), details.get("cause")) if details.get("error") else None
            rows.append(
                TraceRow(
                    at,
                    "workflow",
                    "execution",
                    f"Workflow execution {outcome}" + (f": {error}" if error else ""),
                    error=details.get("error"),
                )
            )
    for name, s in open_states.items():  # still running (e.g. waiting for the merchant's shipments)
        if s["type"] in _STEP_TYPES:
            rows.append(TraceRow(s["at"], "workflow", "task", f"Step {name} (running)"))
    return rows


def _micro(at: str) -> str:
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return at
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error_text(error: str | None, cause: str | None) -> str:
    message = cause or ""
    try:
        parsed = json.loads(cause) if cause else None
        if isinstance(parsed, dict):
            message = parsed.get("errorMessage") or parsed.get("Cause") or message
    except ValueError:
        pass
    text = (
        f"{error}: {message}" if message and error and not str(message).startswith(error) else (message or error or "")
    )
    return str(text).splitlines()[0][:300] if text else ""


def table(trace: Trace):
    """A rich Table of the timeline."""
    from rich.table import Table
    from rich.text import Text

    s = trace.summary
    title = (
        f"{trace.amazon_order_id}: {s['channel_status'] or 'no state'}"
        + (f" (Amazon {s['amazon_status']}, {s['fulfillment']})" if s["amazon_status"] else "")
        + (f", Commerce order {s['commerce_order']}" if s["commerce_order"] else "")
        + (f", workflow {s['workflow']}" if s["workflow"] else "")
    )
    t = Table(
        title=title,
        title_justify="left",
        caption=f"notes: {s['notes']}" if s["notes"] else None,
        caption_justify="left",
    )
    for col, kw in (
        ("time (UTC)", {"no_wrap": True}),
        ("from", {}),
        ("kind", {}),
        ("what", {"overflow": "fold"}),
        ("took", {"justify": "right", "no_wrap": True}),
        ("request / message id", {"overflow": "fold"}),
    ):
        t.add_column(col, **kw)
    day = None
    for r in trace.rows:
        date, clock = r.at[:10], r.at[11:23]
        shown = f"{date} {clock}" if date != day else clock
        day = date
        style = "red" if r.is_error else ("dim" if r.kind in ("stale",) else None)
        t.add_row(
            shown, r.source, r.kind, Text(r.what, style=style or ""), human_duration(r.duration_s), r.request_id or ""
        )
    return t
