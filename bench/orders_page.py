#!/usr/bin/env python
"""The orders page's server time for a store with 10,000 orders: p50 and p99 per page.

    .venv/bin/python bench/orders_page.py [--orders 10000] [--samples 50] [--json]

The embedded stack is built from template.yaml (moto in-process). The store's orders are loaded as
bench/orders_view_latency.py loads them (`sample_orders`, written by the channel's own order store),
the store is connected, and each page is asked `--samples` times (after 3 warm-ups) through the
real OrdersPageFunction with the event API Gateway sends after its JWT authorizer accepted a signed-in
operator's Cognito token (the authorizer's own check is timed apart: API Gateway does it, not the
function). Printed per page: p50 / p99 / mean of the handler's time, the part spent in moto's
DynamoDB, the handler alone, and the DynamoDB calls per request (the one Scan is of the stores table).

As for the JSON view, moto answers a Query by walking the table in Python: the local milliseconds
grow with the table, while on DynamoDB a Query reads only its index range. The handler-alone column
(rendering included) and the calls per request carry over.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layers" / "channel"), str(ROOT / "bench")]

from orders_view_latency import DynamoDbWatch, percentile  # noqa: E402 - bench/ is on the path above


def _connect_store(stack, seller: str, marketplace: str) -> None:
    store = {"seller_id": seller, "marketplace_ids": [marketplace], "connected_at": "1970-01-01T00:00:00Z"}
    stack.client("dynamodb").put_item(
        TableName=stack.resources["StoresTable"], Item={"id": {"S": seller}, "value": {"S": json.dumps(store)}}
    )


def _pages(orders) -> list[tuple[str, str]]:
    some = orders[len(orders) // 3]
    day = some.purchase_date[:10]
    return [
        ("Orders, first page (Error orders first)", "/app/orders"),
        ("Orders, status = Unshipped", "/app/orders?status=Unshipped"),
        ("Orders, one purchase day", f"/app/orders?purchased_from={day}&purchased_to={day}"),
        ("Orders, an Amazon order number", f"/app/orders?text={some.amazon_order_id}"),
        ("Order, timeline and packages", f"/app/orders/{some.amazon_order_id}"),
        ("Health", "/app/health"),
    ]


def _measure(api, headers, label: str, target: str, *, samples: int, watch: DynamoDbWatch) -> dict:
    for _ in range(3):
        api.request("GET", target, headers)
    watch.calls.clear()
    latencies, in_dynamodb = [], []
    for _ in range(samples):
        before = len(watch.calls)
        t = time.perf_counter()
        status, _h, body = api.request("GET", target, headers)
        latencies.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise SystemExit(f"{label}: HTTP {status} {body[:300]!r}")
        in_dynamodb.append(sum(c[3] for c in watch.calls[before:]))
    ops = [c[0] for c in watch.calls]  # a Scan is of the stores table (one item per store): the page's
    # role may not Scan the orders table, and the embedded stack enforces it
    own = [total - db for total, db in zip(latencies, in_dynamodb, strict=True)]
    return {
        "page": label,
        "path": target,
        "samples": samples,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "mean_ms": round(statistics.mean(latencies), 1),
        "p50_ms_in_dynamodb": round(percentile(in_dynamodb, 50), 1),
        "p50_ms_handler_without_dynamodb": round(percentile(own, 50), 1),
        "p99_ms_handler_without_dynamodb": round(percentile(own, 99), 1),
        "dynamodb_calls_per_request": {op: ops.count(op) / samples for op in sorted(set(ops))},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=50, help="measured requests per page (after 3 warm-ups)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"})
    from amazon_channel_local.orders_page_local import OrdersPageApi, create_demo_users, sign_in
    from amazon_channel_local.sample_orders import MARKETPLACE, SELLER, sample_orders, write_orders
    from amazon_channel_local.stack import LocalStack

    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    say(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work skews the milliseconds)")
    with LocalStack(log_stream=io.StringIO(), environment_overrides={"POWERTOOLS_TRACE_DISABLED": "true"}) as stack:
        orders = sample_orders(args.orders)
        t0 = time.perf_counter()
        write_orders(stack.resources["OrdersTable"], stack.client("dynamodb"), orders)
        _connect_store(stack, SELLER, MARKETPLACE)
        say(f"loaded {args.orders:,} orders in {time.perf_counter() - t0:.1f}s")
        create_demo_users(stack)
        api = OrdersPageApi(stack)
        token = sign_in(stack, "demo-operator")
        headers = {"Authorization": "Bearer " + token}
        authorizer = api.jwt_authorizers["OrdersPageSignIn"]
        t = time.perf_counter()
        for _ in range(100):
            authorizer(headers["Authorization"])
        jwt_ms = (time.perf_counter() - t) * 10
        figures = []
        with DynamoDbWatch() as watch:
            for label, target in _pages(orders):
                f = _measure(api, headers, label, target, samples=args.samples, watch=watch)
                figures.append(f)
                say(
                    f"{label:40} p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms  (moto p50 "
                    f"{f['p50_ms_in_dynamodb']:6.1f}; handler alone p50/p99 {f['p50_ms_handler_without_dynamodb']:.1f}"
                    f"/{f['p99_ms_handler_without_dynamodb']:.1f})  calls {f['dynamodb_calls_per_request']}"
                )
    result = {"orders": args.orders, "jwt_check_ms_local": round(jwt_ms, 2), "figures": figures}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        say(f"the local JWT check (API Gateway's authorizer's work): {jwt_ms:.2f} ms a request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
