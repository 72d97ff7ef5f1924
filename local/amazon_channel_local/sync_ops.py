"""The order sync and the retry of a blocked order, run on a local stack through the real function.

Both go through `OrderSyncFunction` (the deployed stack does the same with `aws lambda invoke`),
so what runs locally is what runs in AWS. `stack` is anything with `invoke(logical_id, event)`:
the embedded `LocalStack`, or a stack reached another way (e.g. `amazon-channel local up`).
"""

from __future__ import annotations

from typing import Any, Protocol

SYNC_FUNCTION = "OrderSyncFunction"


class Invokes(Protocol):
    def invoke(self, logical_id: str, event: Any) -> Any: ...


def poll(stack: Invokes, seller_id: str | None = None) -> dict:
    """Run the scheduled order sync now (every connected store, or one). Returns its report."""
    event: dict[str, Any] = {"trigger": "poll"}
    if seller_id:
        event["seller_id"] = seller_id
    return stack.invoke(SYNC_FUNCTION, event)


def retry(stack: Invokes, amazon_order_id: str) -> dict:
    """Retry a blocked order at once (a new workflow execution). Returns the outcome:
    `result` is retried | restarted | not-blocked | not-retryable | unknown."""
    return stack.invoke(SYNC_FUNCTION, {"trigger": "retry", "amazon_order_id": amazon_order_id})
