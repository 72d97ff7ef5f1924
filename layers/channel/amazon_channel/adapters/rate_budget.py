"""A rate budget shared by every concurrently running Lambda function that calls SP-API.

SP-API limits each (selling partner, application, operation) with a token bucket. Lambda functions
run in many sandboxes at once, so a per-process limiter cannot keep the account under its plan;
`DynamoDbRateBudget` keeps one bucket per (seller, operation) as one DynamoDB item
(`pk="RATE#<seller>#<operation>"`, `sk="BUDGET"`, numbers `tokens`, `refilled_at` (epoch seconds)
and `ver`) and takes a token with a conditional write on `ver` (optimistic concurrency: reread and
retry when another function wrote first).

`acquire(key, rate, burst)` returns 0.0 when a token was taken, else the seconds to wait before
trying again. `book(key, rate, burst, within)` also books a token that frees up within `within`
seconds (the bucket goes below zero: later callers wait for the booked tokens too) and returns the
seconds until it is due; a caller that defers its work that long holds that token then, and sends
its request without taking another. A wait beyond `within` books nothing; so many writers at once
that no conditional write lands raises `RateBudgetContended` (nothing booked). The key is
`"<seller>#<operation>"`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..domain import clock as channel_clock
from ..domain.errors import RateBudgetContended

SK = "BUDGET"


class RateBudget(Protocol):
    def acquire(self, key: str, rate: float, burst: int) -> float: ...

    def book(self, key: str, rate: float, burst: int, within: float) -> float: ...


def _refill(tokens: float, last: float, now: float, rate: float, burst: int) -> float:
    return min(float(burst), tokens + max(0.0, now - last) * rate)


class InMemoryRateBudget:
    """A per-process token bucket per key (tests, local runs). Thread-safe."""

    def __init__(self, clock: Callable[[], float] = channel_clock.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str, rate: float, burst: int) -> float:
        return self.book(key, rate, burst, 0.0)

    def book(self, key: str, rate: float, burst: int, within: float) -> float:
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = _refill(tokens, last, now, rate, burst)
            wait = _due_in(tokens, rate)
            self._buckets[key] = (tokens - 1.0 if wait <= within else tokens, now)
            return wait


class DynamoDbRateBudget:
    """A token bucket per key as one DynamoDB item, updated with conditional writes.

    `dynamodb_client` is a low-level boto3 DynamoDB client (created by the caller, never at import).
    """

    def __init__(
        self,
        table_name: str,
        dynamodb_client: Any,
        clock: Callable[[], float] = channel_clock.time,
        max_conflicts: int = 8,
    ):
        self.table_name = table_name
        self.client = dynamodb_client
        self.clock = clock
        self.max_conflicts = max_conflicts

    @staticmethod
    def pk(key: str) -> str:
        return f"RATE#{key}"

    def acquire(self, key: str, rate: float, burst: int) -> float:
        return self.book(key, rate, burst, 0.0)

    def book(self, key: str, rate: float, burst: int, within: float) -> float:
        for _ in range(self.max_conflicts):
            item = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": self.pk(key)}, "sk": {"S": SK}},
                ConsistentRead=True,
            ).get("Item")
            now = self.clock()
            if item is None:
                if self._write_new(key, burst - 1.0, now):
                    return 0.0
                continue
            tokens = _refill(float(item["tokens"]["N"]), float(item["refilled_at"]["N"]), now, rate, burst)
            wait = _due_in(tokens, rate)
            if wait > within:
                return wait
            if self._write(key, tokens - 1.0, now, int(item.get("ver", {"N": "0"})["N"])):
                return wait
        if within > 0.0:
            # A caller booking ahead would take any wait within `within` as its booked token: say
            # instead that nothing was booked (it comes back and books again).
            raise RateBudgetContended(f"rate budget {key}: {self.max_conflicts} concurrent writers in a row")
        # Heavy contention: let the caller wait a little rather than spin on DynamoDB (nothing booked).
        return min(1.0, 1.0 / rate) if rate > 0 else 1.0

    def _write_new(self, key: str, tokens: float, now: float) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": self.pk(key)},
                    "sk": {"S": SK},
                    "tokens": {"N": _num(tokens)},
                    "refilled_at": {"N": _num(now)},
                    "ver": {"N": "1"},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except Exception as e:
            if _conditional_failed(e):
                return False
            raise

    def _write(self, key: str, tokens: float, now: float, ver: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": self.pk(key)}, "sk": {"S": SK}},
                UpdateExpression="SET tokens = :t, refilled_at = :r, ver = :nv",
                ConditionExpression="ver = :v",
                ExpressionAttributeValues={
                    ":t": {"N": _num(tokens)},
                    ":r": {"N": _num(now)},
                    ":v": {"N": str(ver)},
                    ":nv": {"N": str(ver + 1)},
                },
            )
            return True
        except Exception as e:
            if _conditional_failed(e):
                return False
            raise


def _due_in(tokens: float, rate: float) -> float:
    """Seconds until the next token is free (0.0: one is free now); booked tokens come first."""
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate


def _num(x: float) -> str:
    return f"{x:.6f}"


def _conditional_failed(e: Exception) -> bool:
    resp = getattr(e, "response", None)
    return isinstance(resp, dict) and resp.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
