#!/usr/bin/env python
"""Latency of a buyer's order, outside a backlog: measured on the embedded stack, estimated for AWS.

    .venv/bin/python bench/latency.py [--orders 20] [--json]

Plays merchant-fulfilled orders one at a time through the embedded stack (the real handlers, the
state machine on moto, the simulated Amazon and Commerce on 127.0.0.1) and times two paths:
- **import**: from Amazon's ORDER_CHANGE (Unshipped) put on the notifications queue to the order
  saved in Commerce;
- **confirm**: from the merchant's shipment saved in Commerce (its Adobe I/O event on the bus) to
  Amazon's confirmShipment.
Each path is split into queue wait (an SQS message's SentTimestamp to its delivery to the
function), rate-budget wait (what the shared SP-API rate budget asked the client to wait), Amazon
calls and Commerce calls (the clients' own per-call tracing hook, `runtime.traced`, the one that
names X-Ray subsegments), and the rest (Lambda, Step Functions, DynamoDB, EventBridge: the local
stack's in-process stand-ins). Instrumented from outside: the bench wraps those hooks; the
domain is untouched. Local queue waits are the pump's polling; local AWS calls are moto's.

The AWS paper estimate multiplies the calls each path makes (counted in the same run) by
published or typical latencies (`AWS_SECONDS`, sources beside each figure). Goal: p99 <= 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layers" / "channel"), str(ROOT / "tests")]

from amazon_channel_local import stack as local_stack  # noqa: E402
from amazon_channel_local.lambda_runtime import LOG_SINK, LambdaRuntime  # noqa: E402
from amazon_channel_local.player import Player  # noqa: E402
from amazon_channel_local.scenario import Step, parse  # noqa: E402

SCENARIO = {
    "name": "latency",
    "settings": {"customer_creation": "guest", "order_number_source": "commerce"},
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 100000}],
    "steps": [],
}
SPLITS = ("queue wait", "rate-budget wait", "Amazon calls", "Commerce calls", "channel (Lambda, SFN, AWS)")

# (p50, p99) seconds per unit on AWS, us-east-1, warm functions.
AWS_SECONDS = {
    # SQS FAQ (aws.amazon.com/sqs/faqs): "typical latencies for SendMessage, ReceiveMessage, and
    # DeleteMessage API requests are in the tens or low hundreds of milliseconds"; Lambda's SQS
    # pollers long-poll (docs.aws.amazon.com/lambda/latest/dg/with-sqs.html), so a message is
    # received as it arrives: one receive, plus the invoke.
    "sqs_to_lambda": (0.1, 0.5),
    # Lambda invoke overhead of a warm function (tens of ms); a cold start of these handlers is
    # 0.3-1 s (bench/run_benchmarks.py --only cold: imports 1.4-1.7x boto3's); p99 takes one.
    "lambda_invoke": (0.03, 1.0),
    # Step Functions Standard: no published per-transition latency; tens of ms are typical
    # (docs.aws.amazon.com/step-functions/latest/dg/concepts-standard-vs-express.html). Per task:
    # enter the state, invoke, record the result.
    "sfn_task": (0.05, 0.2),
    # DynamoDB: "single-digit millisecond performance at any scale" (aws.amazon.com/dynamodb);
    # a transaction is two round trips. Per handler: ~4 calls.
    "dynamodb_calls_per_handler": (0.02, 0.08),
    # EventBridge: P99 event-delivery latency 361 ms after the 2023 improvement (AWS What's New,
    # "Amazon EventBridge improves end-to-end latency by up to 80%", Feb 2023; PostNL Engineering,
    # "Improved EventBridge Latency Opens Up New Use Cases", 2023). Adobe I/O Events to the partner
    # bus: not published; 1 s p50, 3 s p99 assumed.
    "eventbridge": (0.1, 0.4),
    "adobe_io_events": (1.0, 3.0),
    # SP-API and Commerce: no published latency. SP-API Orders calls: 0.3 s p50, 1 s p99 assumed;
    # a Commerce REST call on a healthy store 0.2 s p50, 0.8 s p99 (the merchant's host decides).
    "sp_api_call": (0.3, 1.0),
    "commerce_call": (0.2, 0.8),
}


# ---------------------------------------------------------------------------------- instruments
class Recorder:
    """What happened when: spans of Amazon/Commerce calls, rate-budget waits, queue waits."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple[float, str, float]] = []  # (perf_counter at start, kind, seconds)

    def add(self, at: float, kind: str, seconds: float) -> None:
        with self.lock:
            self.events.append((at, kind, seconds))

    def between(self, start: float, end: float) -> dict[str, tuple[float, int]]:
        out: dict[str, tuple[float, int]] = {}
        with self.lock:
            for at, kind, seconds in self.events:
                if start <= at <= end:
                    total, n = out.get(kind, (0.0, 0))
                    out[kind] = (total + seconds, n + 1)
        return out

    def install(self, player: Player) -> None:
        """Wrap the clients' tracing hook and the rate budget in every function's own copy of the
        layer (the local runtime keeps one per function, as Lambda keeps one per sandbox), and
        the local stack's queue delivery."""
        runtime = in_process(player)
        for logical_id in runtime.functions:
            with (
                runtime.container(logical_id),
                contextlib.redirect_stdout(LOG_SINK),
                contextlib.redirect_stderr(LOG_SINK),
            ):
                self._wrap(importlib.import_module("amazon_channel.runtime"))
                self._wrap_budget(importlib.import_module("amazon_channel.adapters.rate_budget"))
        self._wrap_queues()

    def _wrap(self, runtime) -> None:
        recorder = self

        @contextlib.contextmanager
        def traced(name: str):
            began = time.perf_counter()
            try:
                yield
            finally:
                kind = "Amazon calls" if name.startswith("sp-api") else "Commerce calls"
                recorder.add(began, kind, time.perf_counter() - began)

        runtime.traced = traced  # the clients take it when first built, in the first invocation

    def _wrap_budget(self, rate_budget) -> None:
        recorder = self
        acquire = rate_budget.DynamoDbRateBudget.acquire

        def measured_acquire(self, key, rate, burst):
            wait = acquire(self, key, rate, burst)
            if wait > 0:
                recorder.add(time.perf_counter(), "rate-budget wait", wait)
            return wait

        rate_budget.DynamoDbRateBudget.acquire = measured_acquire

    def _wrap_queues(self) -> None:
        recorder = self
        deliver = local_stack.LocalStack._deliver_batch

        def measured_deliver(stack, sqs, poller, messages):
            now_ms, began = time.time() * 1000, time.perf_counter()
            for m in messages:
                sent = float(m.get("Attributes", {}).get("SentTimestamp", now_ms))
                recorder.add(began, "queue wait", max(0.0, now_ms - sent) / 1000)
            return deliver(stack, sqs, poller, messages)

        local_stack.LocalStack._deliver_batch = measured_deliver  # type: ignore[method-assign]  # measured


# ---------------------------------------------------------------------------------- the play
def in_process(player: Player) -> LambdaRuntime:
    """The stack's in-process Lambda runtime (this benchmark measures the functions as run here)."""
    assert player.stack.runtime is not None, "the latency benchmark needs the in-process Lambda runtime"
    return player.stack.runtime


def run_until(player: Player, done, limit: float = 60.0) -> None:
    began = time.monotonic()
    while not done():
        if time.monotonic() - began > limit:
            raise TimeoutError("the stack did not get there in time")
        if not player.stack.pump():
            time.sleep(0.002)


def one_order(player: Player, recorder: Recorder, n: int) -> dict:
    oid = f"117-{n:07d}-5000005"
    order: dict[str, Any] = {"id": oid, "buyer": {"name": "Ana Souza", "email": f"ana{n}@example.com"}}
    order["items"] = [{"sku": "MUG-01", "qty": 1, "price": "12.50"}]
    place = parse({"steps": [{"do": "amazon.place_order", "order": order}]}, "latency").steps[0]
    player.scenario.steps.append(place)
    player.run(place)
    player.stack.settle()  # Pending recorded: the clock starts when Amazon verifies the payment
    invoked = len(player.stack.invocations)
    t0 = time.perf_counter()
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    run_until(player, lambda: player.commerce.order_by_ext_id(oid) is not None)
    t1 = time.perf_counter()
    imported_invocations = len(player.stack.invocations) - invoked + in_process(player).in_flight
    player.stack.settle()  # the workflow waits for the merchant's shipment
    confirmed = player.amazon.call_counts["confirmShipment"]
    invoked = len(player.stack.invocations)
    t2 = time.perf_counter()
    player.commerce.merchant_ship(ext_order_id=oid, carrier="UPS", tracking_number=f"1Z{n:09d}")
    run_until(player, lambda: player.amazon.call_counts["confirmShipment"] > confirmed)
    t3 = time.perf_counter()
    confirm_invocations = len(player.stack.invocations) - invoked + in_process(player).in_flight
    player.stack.settle()
    return {
        "import": _split(t1 - t0, recorder.between(t0, t1), imported_invocations),
        "confirm": _split(t3 - t2, recorder.between(t2, t3), confirm_invocations),
    }


def _split(total: float, seen: dict[str, tuple[float, int]], invocations: int) -> dict:
    parts = {kind: seen.get(kind, (0.0, 0))[0] for kind in SPLITS[:4]}
    parts[SPLITS[4]] = max(0.0, total - sum(parts.values()))
    return {
        "total": total,
        **parts,
        "calls": {kind: seen.get(kind, (0.0, 0))[1] for kind in SPLITS[:4]},
        "invocations": invocations,
    }


# ---------------------------------------------------------------------------------- figures
def quantiles(values: list[float]) -> tuple[float, float, float]:
    v = sorted(values)

    def q(p: float) -> float:
        return v[min(len(v) - 1, round(p * (len(v) - 1)))]

    return q(0.50), q(0.95), q(0.99)


def aws_estimate(path: str, sample: dict) -> dict[str, float]:
    """One order along `path` on AWS, from the calls it made here: `p50` adds every hop's p50;
    `p99` adds to it the hops' spreads (p99 - p50) as independent (root of the sum of squares);
    `worst` adds every hop's p99 (all slow at once, and every function cold)."""
    calls, invocations = sample["calls"], sample["invocations"]
    queue_hops = calls["queue wait"]
    units = {
        "sqs_to_lambda": queue_hops,
        "lambda_invoke": invocations,
        "sfn_task": max(0, invocations - queue_hops),  # invocations not from a queue: workflow tasks
        "dynamodb_calls_per_handler": invocations,
        "sp_api_call": calls["Amazon calls"],
        "commerce_call": calls["Commerce calls"],
        "eventbridge": 1 if path == "confirm" else 0,
        "adobe_io_events": 1 if path == "confirm" else 0,
    }
    p50 = sum(AWS_SECONDS[k][0] * n for k, n in units.items())
    spread = sum(n * (AWS_SECONDS[k][1] - AWS_SECONDS[k][0]) ** 2 for k, n in units.items()) ** 0.5
    worst = sum(AWS_SECONDS[k][1] * n for k, n in units.items())
    return {"p50": round(p50, 2), "p99": round(p50 + spread, 2), "worst": round(worst, 2)}


def report(samples: list[dict]) -> list[str]:
    lines = [f"Latency per order, {len(samples)} MFN orders one at a time on the embedded stack (seconds)"]
    for path, title in (("import", "notification -> Commerce order"), ("confirm", "Commerce shipment -> Amazon")):
        rows = [s[path] for s in samples]
        lines.append(f"{title}:")
        lines.append(f"  {'':28} {'p50':>7} {'p95':>7} {'p99':>7}")
        for kind in ("total", *SPLITS):
            p50, p95, p99 = quantiles([r[kind] for r in rows])
            lines.append(f"  {kind:28} {p50:7.3f} {p95:7.3f} {p99:7.3f}")
        calls = rows[0]["calls"]
        lines.append(
            f"  per order: {rows[0]['invocations']} Lambda invocations, {calls['queue wait']} queue deliveries, "
            f"{calls['Amazon calls']} Amazon calls, {calls['Commerce calls']} Commerce calls"
        )
        est = aws_estimate(path, rows[0])
        lines.append(
            f"  AWS paper estimate: p50 {est['p50']:.1f} s, p99 {est['p99']:.1f} s (every hop at its p99 and "
            f"cold: {est['worst']:.1f} s) -> goal p99 <= 10 s {'MET' if est['p99'] <= 10 else 'NOT MET'}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    recorder = Recorder()
    with Player(parse(SCENARIO, "latency"), log_stream=io.StringIO(), time_scale=0.01) as player:
        recorder.install(player)
        one_order(player, recorder, 0)  # warm-up: cold starts and first LWA token out of the figures
        samples = [one_order(player, recorder, n) for n in range(1, args.orders + 1)]
    if args.json:
        summary = {
            path: {
                kind: dict(zip(("p50", "p95", "p99"), quantiles([s[path][kind] for s in samples]), strict=True))
                for kind in ("total", *SPLITS)
            }
            | {"aws_estimate": aws_estimate(path, samples[0][path])}
            for path in ("import", "confirm")
        }
        print(json.dumps({"orders": len(samples), "latency_seconds": summary, "aws_seconds": AWS_SECONDS}, indent=2))
    else:
        print("\n".join(report(samples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
