"""Faults in the embedded stack's AWS calls, for stories and fault-injection suites.

Every AWS call made in this process while a `LocalStack` runs (by a handler, by a Step Functions
service integration such as `events:putEvents`, or by a test) reaches moto through botocore's
`before-send` hook. `AwsFaults` sits in front of it and, for the next `count` calls matching a
service and operation (and optionally the request body), makes the call fail:

- `when="before"`: the call fails and takes no effect (EventBridge down, throttled, ...);
- `when="after"`: the call takes effect and its answer is lost (a timeout after the commit);
- `answer={...}`: the call takes no effect and returns this answer with HTTP 200 (e.g. PutEvents'
  `FailedEntryCount: 1`, which the SDK does not raise).

A failure is raised as `botocore.exceptions.ClientError` straight to the caller, past the SDK's own
retries: it stands for a call that still failed after them. Step Functions turns it into its
`<Service>.<ErrorCode>` error, as it does on AWS. Each fault injected is listed in `injected`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Fault:
    service: str  # botocore's service id, hyphenized: eventbridge, sfn, dynamodb, sqs
    operation: str  # PutEvents, SendTaskSuccess, TransactWriteItems, SendMessage
    when: str
    count: int
    error: str
    status: int
    answer: dict | None
    match: Callable[[dict], bool] | None
    hits: list[dict] = field(default_factory=list)


class AwsFaults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self.injected: list[dict] = []  # {service, operation, when, error}

    def fail_next(
        self,
        service: str,
        operation: str,
        *,
        when: str = "before",
        count: int = 1,
        error: str = "InternalException",
        status: int = 500,
        answer: dict | None = None,
        match: Callable[[dict], bool] | None = None,
    ) -> None:
        """Fail the next `count` calls of `service`/`operation` (whose JSON body satisfies `match`)."""
        if when not in ("before", "after"):
            raise ValueError(f"when is 'before' or 'after', not {when!r}")
        with self._lock:
            self._faults.append(_Fault(service.lower(), operation, when, count, error, status, answer, match))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, service: str, operation: str, request: Any) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.service != service or fault.operation != operation:
                    continue
                if fault.match is not None and not fault.match(_body(request)):
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                kind = "answer" if fault.answer is not None else fault.when
                self.injected.append({"service": service, "operation": operation, "when": kind, "error": fault.error})
                return fault
        return None

    # -- the botocore hook --------------------------------------------------------------------
    def wrap(self, send: Callable[..., Any]) -> Callable[..., Any]:
        """`send` is moto's `BotocoreStubber.__call__`; returns the same with faults in front."""
        faults = self

        def call(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            parts = event_name.split(".")
            fault = faults._take(parts[1], parts[2], request) if len(parts) >= 3 and stubber.enabled else None
            if fault is None:
                return send(stubber, event_name, request, **kwargs)
            if fault.answer is not None:
                from botocore.awsrequest import AWSResponse
                from moto.core.botocore_stubber import MockRawResponse

                return AWSResponse(
                    request.url,
                    200,
                    {"Content-Type": "application/x-amz-json-1.1"},
                    MockRawResponse(json.dumps(fault.answer)),
                )
            if fault.when == "after":
                send(stubber, event_name, request, **kwargs)
            from botocore.exceptions import ClientError

            raise ClientError(
                {
                    "Error": {"Code": fault.error, "Message": f"injected fault ({fault.when} the call took effect)"},
                    "ResponseMetadata": {"HTTPStatusCode": fault.status},
                },
                parts[2],
            )

        return call


def _body(request: Any) -> dict:
    raw = getattr(request, "body", None)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def failed_entry_answer(error_code: str = "InternalFailure") -> dict:
    """PutEvents' answer when EventBridge took none of one entry (HTTP 200)."""
    return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": error_code, "ErrorMessage": "injected failed entry"}]}


def put_events_of(detail_type: str) -> Callable[[dict], bool]:
    """`match` for a PutEvents request carrying an event of `detail_type`."""
    return lambda body: any(e.get("DetailType") == detail_type for e in body.get("Entries") or [])
