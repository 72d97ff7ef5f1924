#!/usr/bin/env python
"""Figure 2, Orders view latency: p50 and p99 of the list query on 10,000 orders in the local stack.

    .venv/bin/python bench/orders_view_latency.py [--orders 10000] [--samples 100] [--json]

The embedded stack is built from template.yaml (moto in-process). 10,000 orders of one store are
loaded with the items the channel's own DynamoDB order store writes (`DynamoDbOrderStore`, state
and history items: 20,000+ items), then each query is asked `--samples` times through the real
OrdersViewFunction with API Gateway's HTTP API event (payload 2.0). Every DynamoDB call is watched:
the script fails if any is a Scan. Printed per query: the access pattern, p50 / p99 / mean of the
handler's latency, the rows returned, the DynamoDB calls and items read per request, and the read
request units that reading costs on DynamoDB (eventually consistent: 0.5 RRU per 4 KB read).

Reading the figures: moto answers a Query by walking the whole table in Python, so the local
milliseconds grow with the table (about 20,000 items here), whatever the index; on DynamoDB a
Query reads only the index range it names. The items read and the read units are what carry over.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layers" / "channel")]

FUNCTION = "OrdersViewFunction"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class DynamoDbWatch:
    """Every DynamoDB call made in this process (the handler's too): operation, items read, returned, ms."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int, float]] = []

    def __enter__(self) -> DynamoDbWatch:
        import botocore.client

        self._original = original = botocore.client.BaseClient._make_api_call
        watch = self

        def spy(client, operation, params):
            t = time.perf_counter()
            result = original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                read = result.get("ScannedCount", 1 if result.get("Item") else 0)
                watch.calls.append(
                    (
                        operation,
                        read,
                        result.get("Count", 1 if result.get("Item") else 0),
                        (time.perf_counter() - t) * 1000,
                    )
                )
            return result

        botocore.client.BaseClient._make_api_call = spy
        return self

    def __exit__(self, *exc) -> None:
        import botocore.client

        botocore.client.BaseClient._make_api_call = self._original


def item_sizes(items: list[dict]) -> dict[str, float]:
    """Mean size in bytes of an order's state item in each index (DynamoDB's item size rules)."""
    import yaml  # PyYAML, from the dev requirements
    from moto.dynamodb.models.dynamo_type import DynamoType

    def size(attrs: dict) -> int:
        return sum(len(k.encode()) + DynamoType(v).size() for k, v in attrs.items())

    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    indexes = {i["IndexName"]: i for i in template["Resources"]["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]}
    status_attrs = set(indexes["OrdersByStatus"]["Projection"]["NonKeyAttributes"]) | {
        "pk",
        "sk",
        "status_pk",
        "status_sk",
    }
    states = [i for i in items if i["sk"]["S"] == "STATE"]
    visible = [i for i in states if "view_pk" in i]
    return {
        "OrdersView": statistics.mean(size(i) for i in visible),  # projection ALL
        "OrdersByStatus": statistics.mean(size({k: v for k, v in i.items() if k in status_attrs}) for i in states),
        "table": statistics.mean(size(i) for i in states),
    }


class _CfnLoader(__import__("yaml").SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=100, help="measured requests per query (after 3 warm-ups)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    import os

    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"})
    from amazon_channel_local.http_api import HttpApiAdapter
    from amazon_channel_local.sample_orders import SELLER, order_items, sample_orders, write_orders
    from amazon_channel_local.stack import LocalStack

    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    load_before = os.getloadavg()[0]
    say(f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} (other work on it skews the milliseconds)")
    with LocalStack(log_stream=io.StringIO(), environment_overrides={"POWERTOOLS_TRACE_DISABLED": "true"}) as stack:
        orders = sample_orders(args.orders)
        t0 = time.perf_counter()
        write_orders(stack.resources["OrdersTable"], stack.client("dynamodb"), orders)
        table_items = stack.client("dynamodb").describe_table(TableName=stack.resources["OrdersTable"])["Table"][
            "ItemCount"
        ]
        say(
            f"loaded {args.orders:,} orders ({table_items:,} items: state and history) "
            f"in {time.perf_counter() - t0:.1f}s"
        )
        sizes = item_sizes(order_items(orders[:500]))
        api = HttpApiAdapter(stack, FUNCTION)

        def ask(params: dict[str, str]) -> dict:
            status, body = api.get_json("/orders", {"seller_id": SELLER, **params})
            if status != 200:
                raise SystemExit(f"{params}: HTTP {status} {body}")
            return body

        mid = orders[len(orders) // 2].purchase_date[:10]
        second_page = ask({})["next_cursor"]
        queries = [
            (
                "first page, no filter",
                {},
                "OrdersView",
                "Query OrdersView: view_pk = STORE#<seller>, newest first, Limit 26",
            ),
            (
                "next page (cursor)",
                {"cursor": second_page},
                "OrdersView",
                "Query OrdersView: view_pk = STORE#<seller>, ExclusiveStartKey = cursor, Limit 26",
            ),
            (
                "status = Error",
                {"status": "Error"},
                "OrdersByStatus",
                "Query OrdersByStatus: status_pk = STORE#<seller>#Error, newest first, Limit 26",
            ),
            (
                "status = Pending",
                {"status": "Pending"},
                "OrdersByStatus",
                "Query OrdersByStatus: status_pk = STORE#<seller>#Pending (hidden from OrdersView)",
            ),
            (
                "one purchase day",
                {"purchased_from": mid, "purchased_to": mid},
                "OrdersView",
                "Query OrdersView: view_pk = STORE#<seller> AND view_sk BETWEEN <day> AND <day>~",
            ),
            (
                "buyer name contains 'souza'",
                {"buyer_name": "souza"},
                "OrdersView",
                "Query OrdersView: view_pk = STORE#<seller>, Filter contains(buyer_name_lc, :b), 250 items a read",
            ),
            (
                "grand total >= 80",
                {"total_min": "80"},
                "OrdersView",
                "Query OrdersView: view_pk = STORE#<seller>, Filter grand_total >= :min, 250 items a read",
            ),
            (
                "order number",
                {"amazon_order_id": orders[1234 % len(orders)].amazon_order_id},
                "table",
                "GetItem pk = ORDER#<id>, sk = STATE",
            ),
        ]
        figures, all_ops = [], []
        with DynamoDbWatch() as watch:
            for label, params, index, pattern in queries:
                for _ in range(3):
                    ask(params)
                watch.calls.clear()
                latencies, in_dynamodb, rows = [], [], 0
                for _ in range(args.samples):
                    before = len(watch.calls)
                    t = time.perf_counter()
                    page = ask(params)
                    latencies.append((time.perf_counter() - t) * 1000)
                    in_dynamodb.append(sum(c[3] for c in watch.calls[before:]))
                    rows = len(page["orders"])
                own = [total - db for total, db in zip(latencies, in_dynamodb, strict=True)]
                ops = [c[0] for c in watch.calls]
                all_ops += ops
                if "Scan" in ops:
                    raise SystemExit(f"{label}: the Orders view scanned the table")
                items_read = sum(c[1] for c in watch.calls) / args.samples
                kb = items_read * sizes[index] / 1024
                figures.append(
                    {
                        "query": label,
                        "access_pattern": pattern,
                        "samples": args.samples,
                        "p50_ms": round(percentile(latencies, 50), 1),
                        "p99_ms": round(percentile(latencies, 99), 1),
                        "mean_ms": round(statistics.mean(latencies), 1),
                        "rows": rows,
                        "p50_ms_in_dynamodb": round(percentile(in_dynamodb, 50), 1),
                        "p50_ms_handler_without_dynamodb": round(percentile(own, 50), 1),
                        "p99_ms_handler_without_dynamodb": round(percentile(own, 99), 1),
                        "dynamodb_calls_per_request": {op: ops.count(op) / args.samples for op in sorted(set(ops))},
                        "items_read_per_request": round(items_read, 1),
                        "read_units_per_request_on_dynamodb": round(max(0.5, math.ceil(kb / 4) * 0.5), 1),
                    }
                )
                f = figures[-1]
                say(
                    f"{label:28} p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms "
                    f"(of which moto p50 {f['p50_ms_in_dynamodb']:6.1f}; handler alone p50/p99 "
                    f"{f['p50_ms_handler_without_dynamodb']:.1f}/{f['p99_ms_handler_without_dynamodb']:.1f})  "
                    f"rows {rows:3}  items read {f['items_read_per_request']:6.1f}  "
                    f"~{f['read_units_per_request_on_dynamodb']} RRU\n{'':28} {pattern}"
                )
    scans = all_ops.count("Scan")
    result = {
        "cpus": os.cpu_count(),
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "orders": args.orders,
        "table_items": table_items,
        "figures": figures,
        "dynamodb_calls": len(all_ops),
        "scans": scans,
        "mean_item_bytes": {k: round(v) for k, v in sizes.items()},
        "note": "local latency is moto's: a Query walks the whole table in Python; items read and RRU carry over",
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"DynamoDB calls measured: {len(all_ops):,}, of which Scan: {scans}. "
            f"Mean state item size by index (bytes): {result['mean_item_bytes']}."
        )
        print("p50/p99: the real OrdersViewFunction handler, API Gateway HTTP API event in, JSON out, on moto.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
