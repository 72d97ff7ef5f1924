#!/usr/bin/env python
"""Benchmarks of the Amazon channel on the embedded local stack (loopback only).

    .venv/bin/python bench/run_benchmarks.py [--orders 50] [--runs 7] [--json]

1. SP-API calls per imported MFN order; 2. cold-start import time of each handler vs bare boto3, in
the dev venv and as deployed; 3. wall time of `amazon-channel simulate` on a mixed scenario; 4. state
transitions and AWS requests per MFN order, and the AWS cost per 1,000 MFN orders. See bench/README.md.
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"
CLI = ROOT / ".venv" / "bin" / "amazon-channel"
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layers" / "channel")]

# Public AWS list prices, us-east-1, and where they are published (DynamoDB on-demand after the 2024-11 price cut).
# https://aws.amazon.com/step-functions/pricing/
SFN_STANDARD_PER_TRANSITION = 0.025 / 1_000  # Step Functions Standard: $0.025 per 1,000 state transitions
SFN_EXPRESS_PER_REQUEST = 1.00 / 1_000_000  # Step Functions Express: $1.00 per 1M requests (executions started)
SFN_EXPRESS_PER_GB_SECOND = 0.00001667  # Express duration: $0.00001667 per GB-second (first 1,000 GB-hours a month)
SFN_EXPRESS_MEMORY_GB = 64 / 1024  # billed in 64 MB chunks: definition + payload of these children fit in one
SFN_EXPRESS_ROUNDING_S = 0.1  # duration rounded up to the next 100 ms
# https://aws.amazon.com/lambda/pricing/
LAMBDA_PER_REQUEST = 0.20 / 1_000_000  # Lambda x86: $0.20 per 1M requests
LAMBDA_PER_GB_SECOND = 0.0000166667  # Lambda x86: $0.0000166667 per GB-second
LAMBDA_MEMORY_GB = 512 / 1024  # template.yaml Globals.Function.MemorySize
# https://aws.amazon.com/sqs/pricing/
SQS_PER_REQUEST = 0.40 / 1_000_000  # SQS standard: $0.40 per 1M requests (each 64 KB chunk is a request)
# https://aws.amazon.com/eventbridge/pricing/
EVENTBRIDGE_PER_EVENT = 1.00 / 1_000_000  # EventBridge custom and partner events: $1.00 per 1M
# https://aws.amazon.com/dynamodb/pricing/on-demand/
DDB_PER_WRU = 0.625 / 1_000_000  # DynamoDB on-demand: $0.625 per 1M write request units (2024-11)
DDB_PER_RRU = 0.125 / 1_000_000  # DynamoDB on-demand: $0.125 per 1M read request units (2024-11)
# https://aws.amazon.com/secrets-manager/pricing/
SECRETS_PER_CALL = 0.05 / 10_000  # Secrets Manager: $0.05 per 10,000 API calls
# https://aws.amazon.com/cloudwatch/pricing/
LOGS_PER_GB = 0.50  # CloudWatch Logs standard ingestion: $0.50 per GB

TARGET_COLD_RATIO = 1.5
SETTLE_TIMEOUT_S = 1800
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
MARK = "--bench-import-start--"
SKU = "MUG-01"


# ---------------------------------------------------------------------------------- scenarios
def _order(i: int, fulfillment: str) -> dict:
    prefix = "113" if fulfillment == "MFN" else "114"
    order = {
        "id": f"{prefix}-{i:07d}-{i:07d}",
        "fulfillment": fulfillment,
        "items": [{"sku": SKU, "qty": 1 + i % 3, "price": "12.50", "tax": "1.00"}],
        "shipping": {"price": "4.99", "tax": "0.00"},
    }
    if fulfillment == "MFN":
        order["buyer"] = {"name": f"Buyer {i}", "email": f"buyer{i}@example.com"}
    return order


def scenario(mfn: int, fba: int = 0) -> dict:
    """MFN orders (place, verify_payment, settle, commerce.ship, settle) plus FBA orders Amazon ships."""
    orders = [_order(i + 1, "MFN") for i in range(mfn)] + [_order(mfn + i + 1, "AFN") for i in range(fba)]
    steps = [{"do": "amazon.place_order", "order": o} for o in orders]
    steps += [{"do": "amazon.verify_payment", "order_id": o["id"]} for o in orders]
    steps.append({"do": "settle"})
    for o in orders:
        if o["fulfillment"] == "MFN":
            steps.append(
                {
                    "do": "commerce.ship",
                    "order_id": o["id"],
                    "carrier": "UPS",
                    "tracking_number": f"1Z999AA1{int(o['id'][-7:]):010d}",
                }
            )
        else:
            steps.append({"do": "amazon.ship", "order_id": o["id"]})
    steps.append({"do": "settle"})
    return {
        "name": f"benchmark: {mfn} MFN + {fba} FBA orders",
        "settings": {"customer_creation": "guest"},
        "catalog": [{"sku": SKU, "name": "Blue mug", "price": "12.50", "qty": 100_000}],
        "steps": steps,
    }


# ------------------------------------------------------------------- AWS request accounting
def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _item_size(attrs: dict | None) -> int:
    """DynamoDB item size in bytes (names + values), as moto computes it."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    return sum(len(k.encode()) + DynamoType(v).size() for k, v in (attrs or {}).items())


class AwsMeter:
    """Counts the AWS requests the stack would be billed for while a scenario plays.

    botocore calls are counted when made by a handler (LambdaRuntime._run on this thread) or by the
    SQS event source poller (LocalStack._poll); the harness's own calls (setup, settle, result)
    are not. SQS sends and EventBridge events are counted in moto's backends, because EventBridge
    targets and Step Functions service integrations reach them without a handler. Handler time is
    measured inside handler(event, context), without the in-process runtime's lock wait; settle's
    check of running executions reads moto's backend (same answer, far faster at 50 executions).
    """

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (who, service, operation)
        self.sqs_sends = 0
        self.events = 0
        self.wru = 0.0
        self.rru = 0.0
        self.handler_seconds: Counter[str] = Counter()  # time inside handler(event, context), by function
        self._ctx = threading.local()
        self._lock = threading.Lock()

    @contextmanager
    def _as(self, who: str):
        prev = getattr(self._ctx, "who", None)
        self._ctx.who = who
        try:
            yield
        finally:
            self._ctx.who = prev

    @contextmanager
    def installed(self):
        import botocore.endpoint
        import moto.events.models as events_models
        import moto.sqs.models as sqs_models

        from amazon_channel_local.lambda_runtime import LambdaRuntime
        from amazon_channel_local.stack import LocalStack

        meter = self
        saved = [
            (botocore.endpoint.Endpoint, "make_request"),
            (LambdaRuntime, "_run"),
            (LocalStack, "_poll"),
            (sqs_models.SQSBackend, "send_message"),
            (events_models.EventsBackend, "put_events"),
            (LambdaRuntime, "_load"),
        ]
        originals = [getattr(owner, name) for owner, name in saved]
        make_request, run, poll, send_message, put_events, load = originals

        def metered_make_request(endpoint, operation_model, request_dict):
            who = getattr(meter._ctx, "who", None)
            service = operation_model.service_model.service_name
            op = operation_model.name
            if who is None or (service, op) in {
                ("sqs", "SendMessage"),
                ("sqs", "SendMessageBatch"),
                ("events", "PutEvents"),
            }:
                return make_request(endpoint, operation_model, request_dict)
            before = meter._ddb_before(op, request_dict) if service == "dynamodb" else None
            response = make_request(endpoint, operation_model, request_dict)
            if op == "ReceiveMessage" and not response[1].get("Messages"):
                op = "ReceiveMessage, empty (idle polling, not billed here)"
            with meter._lock:
                meter.calls[(who, service, op)] += 1
            if before is not None:
                meter._ddb_units(op, before, response[1])
            return response

        def metered_run(runtime, *a, **kw):
            with meter._as("handler"):
                return run(runtime, *a, **kw)

        def metered_poll(stack, *a, **kw):
            with meter._as("poller"):
                return poll(stack, *a, **kw)

        def metered_send_message(backend, *a, **kw):
            with meter._lock:
                meter.sqs_sends += 1
            return send_message(backend, *a, **kw)

        def metered_put_events(backend, events, *a, **kw):
            with meter._lock:
                meter.events += len(events)
            return put_events(backend, events, *a, **kw)

        def timed_load(runtime, logical_id):
            return _TimedModule(load(runtime, logical_id), logical_id, meter)

        replacements = [
            metered_make_request,
            metered_run,
            metered_poll,
            metered_send_message,
            metered_put_events,
            timed_load,
        ]
        for (owner, name), new in zip(saved, replacements, strict=True):
            setattr(owner, name, new)
        try:
            yield self
        finally:
            for (owner, name), old in zip(saved, originals, strict=True):
                setattr(owner, name, old)

    # -- DynamoDB request units (approximation: item sizes from moto, GSI writes at projected size)
    @staticmethod
    def _table(name: str):
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ.get("AWS_DEFAULT_REGION", "us-east-1")].get_table(name)

    def _stored(self, table_name: str, key: dict) -> Any:
        """The item as stored now (a moto Item), or None."""
        try:
            from moto.dynamodb.models.dynamo_type import DynamoType

            table = self._table(table_name)
            hk = DynamoType(key[table.hash_key_attr])
            rk = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            return table.get_item(hk, rk)
        except Exception:  # noqa: BLE001 - an approximation never fails the benchmark
            return None

    @staticmethod
    def _writes(op: str, body: dict) -> list[tuple[str, dict | None, dict | None, bool]]:
        """(table, key, new item, transactional) per item written."""
        out = []
        if op == "PutItem":
            out.append((body["TableName"], None, body["Item"], False))
        elif op in ("UpdateItem", "DeleteItem"):
            out.append((body["TableName"], body["Key"], None, False))
        elif op == "TransactWriteItems":
            for t in body["TransactItems"]:
                spec = next(iter(t.values()))
                out.append((spec["TableName"], spec.get("Key"), spec.get("Item"), True))
        elif op == "BatchWriteItem":
            for table, reqs in body["RequestItems"].items():
                for r in reqs:
                    put = r.get("PutRequest")
                    out.append((table, None if put else r["DeleteRequest"]["Key"], put and put["Item"], False))
        return out

    def _key_of(self, table_name: str, key: dict | None, item: dict | None) -> dict:
        if key is not None:
            return key
        try:
            table = self._table(table_name)
            return {k: item[k] for k in (table.hash_key_attr, table.range_key_attr) if k}
        except Exception:  # noqa: BLE001
            return {}

    def _ddb_before(self, op: str, request_dict: dict) -> tuple[dict, list]:
        body = json.loads(request_dict.get("body") or b"{}")
        writes = []
        for table, given_key, item, tx in self._writes(op, body):
            key = self._key_of(table, given_key, item)
            writes.append((table, key, _item_size(item), tx, copy.deepcopy(self._stored(table, key))))
        return body, writes

    def _ddb_units(self, op: str, before: tuple[dict, list], parsed: dict) -> None:
        body, writes = before
        wru = rru = 0.0
        for table, key, new_size, tx, old in writes:
            after = self._stored(table, key)
            size = max(new_size, old.size() if old else 0, after.size() if after else 0)
            wru += _write_units(size) * (2 if tx else 1) + self._gsi_write_units(table, old, after)
        consistent = 1.0 if body.get("ConsistentRead") else 0.5
        if op == "GetItem":
            rru += max(1, math.ceil(_item_size(parsed.get("Item")) / 4096)) * consistent
        elif op in ("Query", "Scan"):
            total = sum(_item_size(i) for i in parsed.get("Items", []))
            rru += max(1, math.ceil(total / 4096)) * (0.5 if body.get("IndexName") else consistent)
        elif op == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                rru += sum(max(1, math.ceil(_item_size(i) / 4096)) * 0.5 for i in items)
        elif op == "TransactGetItems":
            rru += sum(2 * max(1, math.ceil(_item_size(r.get("Item")) / 4096)) for r in parsed.get("Responses", []))
        with self._lock:
            self.wru += wru
            self.rru += rru

    def _gsi_write_units(self, table_name: str, old: Any, new: Any) -> int:
        """Index write units of one base-table write: projected size; a key change is a delete plus a put."""
        try:
            indexes = self._table(table_name).global_indexes
        except Exception:  # noqa: BLE001
            return 0
        units = 0
        for index in indexes:
            keys = index.schema_key_attrs
            before = index.project(old) if old and all(k in old.attrs for k in keys) else None
            after = index.project(new) if new and all(k in new.attrs for k in keys) else None
            if before and after and all(before.attrs[k] == after.attrs[k] for k in keys):
                if before.attrs != after.attrs:
                    units += _write_units(max(before.size(), after.size()))
            else:
                units += sum(_write_units(i.size()) for i in (before, after) if i)
        return units


class _TimedModule:
    """A handler module whose functions are timed when called (the runtime's lock wait excluded)."""

    def __init__(self, module: Any, logical_id: str, meter: AwsMeter):
        self._module, self._id, self._meter = module, logical_id, meter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._module, name)
        if not callable(attr):
            return attr

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return attr(*a, **kw)
            finally:
                with self._meter._lock:
                    self._meter.handler_seconds[self._id] += time.perf_counter() - t0

        return timed


# --------------------------------------------------------------- 1 + 4: MFN orders in-process
def bench_mfn(n: int) -> dict:
    """Play n MFN orders in-process; SP-API calls, AWS requests and state transitions."""
    from amazon_channel_local.player import Player
    from amazon_channel_local.scenario import parse

    raw = scenario(n)
    meter = AwsMeter()
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-handlers-", suffix=".log", delete=False)  # noqa: SIM115
    t0 = time.perf_counter()
    with meter.installed(), Player(parse(raw, "<bench mfn>"), log_stream=log) as player:
        # on shared or loaded cores 50 orders' imports can take longer than a test's 120 s settle
        player.stack.settle = functools.partial(player.stack.settle, timeout=SETTLE_TIMEOUT_S)
        result = player.play()
        amazon = player.amazon.call_counts
        commerce_requests = len(player.commerce.request_log)
        invocations = list(player.stack.invocations)
        executions = player.stack.executions()  # Standard only: Express is billed per request and duration
        express = [e for e in player.stack.executions(express=True) if e not in executions]
        transitions = retries = 0
        for e in executions:
            history = player.stack.history(e["executionArn"])
            transitions += sum(ev["type"].endswith("StateEntered") for ev in history)
            per_state: Counter[str] = Counter()
            state = None
            for ev in history:
                if ev["type"].endswith("StateEntered"):
                    state = ev.get("stateEnteredEventDetails", {}).get("name")
                    per_state[state] = 0
                elif ev["type"] in ("LambdaFunctionScheduled", "TaskScheduled"):
                    per_state[state] += 1
            retries += sum(max(0, c - 1) for c in per_state.values())
    played_s = time.perf_counter() - t0
    log.close()
    with open(log.name, encoding="utf-8", errors="replace") as lines:
        log_bytes = sum(len(line.encode()) for line in lines if not line.startswith("[moto]"))
    os.unlink(log.name)

    shipped = sum(o["channel_status"] == "Shipped" for o in result["orders"])
    throttled_failures = [i for i in invocations if i["error"] and "AmazonThrottled" in i["error"]]
    by_function: dict[str, dict] = defaultdict(lambda: {"count": 0, "seconds": 0.0, "errors": 0})
    for i in invocations:
        f = by_function[i["logical_id"]]
        f["count"] += 1
        f["errors"] += not i["ok"]
    for name, handler_s in meter.handler_seconds.items():
        by_function[name]["seconds"] = handler_s
    return {
        "orders": n,
        "seconds": round(played_s, 1),
        "shipped": shipped,
        "sp_api": {
            "getOrder": amazon["getOrder"],
            "confirmShipment": amazon["confirmShipment"],
            "searchOrders": amazon["searchOrders"],
            "lwa_token": amazon["lwa_token"],
            "throttled": amazon["throttled"],
            "packages": n,
            "throttled_handler_failures": len(throttled_failures),
            "commerce_rest_requests": commerce_requests,
        },
        "executions": len(executions),
        "express_executions": len(express),
        "express_billed_seconds": _express_billed_seconds(len(express), meter.handler_seconds),
        "express_wall_seconds_in_process": sum((e["stopDate"] - e["startDate"]).total_seconds() for e in express),
        "state_transitions": transitions,
        "task_retries": retries,
        "lambda": {k: dict(v) for k, v in sorted(by_function.items())},
        "aws_calls": [
            {"by": who, "service": s, "operation": op, "count": c} for (who, s, op), c in sorted(meter.calls.items())
        ],
        "sqs_messages_sent": meter.sqs_sends,
        "eventbridge_events": meter.events,
        "dynamodb_wru": meter.wru,
        "dynamodb_rru": meter.rru,
        "log_bytes": log_bytes,
    }


def _express_steps() -> set[str]:
    """The functions the template's Express state machines invoke (logical ids)."""
    from samtranslator.yaml_helper import yaml_parse

    steps = set()
    for res in yaml_parse((ROOT / "template.yaml").read_text())["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::StateMachine" and props.get("Type") == "EXPRESS":
            for value in props.get("DefinitionSubstitutions", {}).values():
                if isinstance(value, dict) and "Fn::GetAtt" in value:
                    steps.add(value["Fn::GetAtt"][0])
    return steps


def _express_billed_seconds(executions: int, handler_seconds: Counter[str]) -> float:
    """Express duration as AWS would bill it: the time inside the Lambda steps the children run, plus,
    per execution, SFN_EXPRESS_ROUNDING_S for the rounding up and its EventBridge/Step Functions calls.

    (In-process, a child's own start-to-stop time also holds the embedded runtime's lock waits and
    moto's polling; it is reported as express_wall_seconds_in_process, not billed.)
    """
    inside = sum(s for name, s in handler_seconds.items() if name in _express_steps())
    return inside + executions * SFN_EXPRESS_ROUNDING_S


def aws_cost(m: dict) -> dict:
    """Billed quantities and cost per 1,000 MFN orders from bench_mfn's measurements."""
    per_k = 1000 / m["orders"]
    calls = Counter()
    for c in m["aws_calls"]:
        if "not billed" not in c["operation"]:
            calls[c["service"]] += c["count"]
    invocations = sum(f["count"] for f in m["lambda"].values())
    gb_seconds = sum(f["seconds"] for f in m["lambda"].values()) * LAMBDA_MEMORY_GB
    transitions = m["state_transitions"] + m["task_retries"]
    sqs_requests = m["sqs_messages_sent"] + calls["sqs"]
    rows = [
        ("Step Functions Standard", "state transitions (incl. retries)", transitions, SFN_STANDARD_PER_TRANSITION),
        (
            "Step Functions Express requests",
            "child executions started",
            m["express_executions"],
            SFN_EXPRESS_PER_REQUEST,
        ),
        (
            "Step Functions Express duration",
            "GB-s at 64 MB (Lambda steps' time + 100 ms each)",
            m["express_billed_seconds"] * SFN_EXPRESS_MEMORY_GB,
            SFN_EXPRESS_PER_GB_SECOND,
        ),
        ("Lambda requests", "invocations", invocations, LAMBDA_PER_REQUEST),
        ("Lambda compute", "GB-s at 512 MB (handler time)", gb_seconds, LAMBDA_PER_GB_SECOND),
        ("SQS", "requests (sends + poller + handlers)", sqs_requests, SQS_PER_REQUEST),
        ("EventBridge", "events put (custom + Commerce partner)", m["eventbridge_events"], EVENTBRIDGE_PER_EVENT),
        ("DynamoDB writes", "write request units", m["dynamodb_wru"], DDB_PER_WRU),
        ("DynamoDB reads", "read request units", m["dynamodb_rru"], DDB_PER_RRU),
        ("Secrets Manager", "API calls", calls["secretsmanager"], SECRETS_PER_CALL),
        ("CloudWatch Logs", "GB ingested (handler logs)", m["log_bytes"] / 1e9, LOGS_PER_GB),
    ]
    table = [
        {"service": s, "unit": u, "per_1000_orders": q * per_k, "unit_price": p, "usd": q * per_k * p}
        for s, u, q, p in rows
    ]
    return {"rows": table, "total_usd": sum(r["usd"] for r in table)}


# -------------------------------------------------------------------------- 2: cold starts
FLOOR = "(floor: boto3+pydantic+Powertools)"
# What every handler loads before any project code: the design requires boto3, pydantic and Powertools
# Logger/Tracer/Metrics/Parser, set up as the handlers set them up.
FLOOR_CODE = """\
import boto3
from pydantic import BaseModel
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
logger = Logger(service="amazon-channel")
tracer = Tracer(service="amazon-channel", patch_modules=("botocore",))
metrics = Metrics(namespace="AmazonChannel")
"""
CHANNEL = ROOT / "layers" / "channel"
LAYER_BUILD = ROOT / ".aws-sam" / "build" / "ChannelLayer" / "python"  # what `sam build` makes
BENCH_CACHE = ROOT / ".bench-cache"
COLD_ENVS = {
    "venv": "the dev venv on this machine; its boto3 also loads awscrt and pyOpenSSL, which Lambda's does not",
    "deployed": "the layer as `sam build` makes it, no site-packages (python -S), as in Lambda",
}


def _import_env(handler: str | None, task_root: Path | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POWERTOOLS_", "AWS_", "PYTHON")) and k not in ("LAMBDA_TASK_ROOT", "_HANDLER")
    }
    if handler is None:
        return env
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(task_root or ROOT / "functions" / handler),  # production: tracing is on
            "AWS_LAMBDA_FUNCTION_NAME": handler,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "ORDERS_TABLE": "orders",
            "STORES_TABLE": "stores",
            "IDEMPOTENCY_TABLE": "idempotency",
            "EVENT_BUS_NAME": "channel",
            "PARKING_QUEUE_URL": "http://127.0.0.1:1/000000000000/parking",
            "MFN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:mfn-order",
            "SP_API_ENDPOINT": "http://127.0.0.1:1",
            "LWA_TOKEN_URL": "http://127.0.0.1:1/auth/o2/token",
            "SP_API_SECRET_ID": "sp-api",
            "COMMERCE_BASE_URL": "http://127.0.0.1:1",
            "COMMERCE_SECRET_ID": "commerce",
            "POWERTOOLS_SERVICE_NAME": "amazon-channel",
            "POWERTOOLS_METRICS_NAMESPACE": "AmazonChannel",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


def _import_code(paths: list[str], module: str, mark: bool) -> str:
    path = f"sys.path[:0] = {paths!r}; " if paths else ""
    marker = f"sys.stderr.write({MARK + chr(10)!r}); " if mark else ""
    return f"import sys; {path}{marker}import {module}"


def _importtime(
    python: list[str], paths: list[str], module: str, env: dict
) -> tuple[float, list[tuple[str, float]], Counter]:
    """From -X importtime: seconds summed over the top-level imports, [(module, cumulative s)] below
    them, and self seconds per top-level package."""
    out = subprocess.run(
        [*python, "-X", "importtime", "-c", _import_code(paths, module, True)],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stderr
    total, nested, by_package = 0.0, [], Counter()
    for line in out.split(MARK + "\n", 1)[1].splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        module_name = name.strip()
        by_package[module_name.split(".")[0]] += int(own) / 1e6
        if len(name) - len(name.lstrip()) == 1:
            total += int(cumulative) / 1e6
        else:
            nested.append((module_name, int(cumulative) / 1e6))
    return total, nested, by_package


def _wall(python: list[str], paths: list[str], module: str, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [*python, "-c", _import_code(paths, module, False)],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return time.perf_counter() - t0


def _base_python() -> str:
    """The interpreter the venv was made from (Lambda's python3.13 has no site-packages of ours)."""
    return subprocess.run(
        [str(PY), "-c", "import sys; print(sys._base_executable)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()


def _deployed_layer() -> Path:
    """The layer's python/ dir as Lambda mounts it at /opt/python: `sam build`'s if there is one, else
    the layer's requirements installed once for Lambda's platform into .bench-cache/."""
    if LAYER_BUILD.is_dir():
        return LAYER_BUILD
    requirements = CHANNEL / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    target = BENCH_CACHE / f"layer-{digest}" / "python"
    if target.is_dir():
        return target
    partial = target.with_name(f"python.partial-{os.getpid()}")  # renamed once complete
    shutil.rmtree(partial, ignore_errors=True)
    proc = subprocess.run(
        [
            str(PY),
            "-m",
            "pip",
            "install",
            "-q",
            "-r",
            str(requirements),
            "--target",
            str(partial),
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "--python-version",
            "3.13",
            "--implementation",
            "cp",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(
            f"pip install of the layer failed ({proc.returncode}): " + (proc.stderr or proc.stdout).strip()[-300:]
        )
    partial.rename(target)
    return target


def _cold_rows(floor_dir: Path, layer: list[str]) -> list[tuple[str, str, list[str], dict]]:
    """(row, module to import, sys.path prefix, environment variables) of figure 2."""
    rows = [
        ("boto3", "boto3", [*layer], _import_env(None)),
        (FLOOR, "app", [str(floor_dir), str(CHANNEL), *layer], _import_env("bench-floor", floor_dir)),
    ]
    rows += [(h, "app", [str(ROOT / "functions" / h), str(CHANNEL), *layer], _import_env(h)) for h in HANDLERS]
    return rows


def _cold_environment(python: list[str], layer: list[str], floor_dir: Path, runs: int, wall: bool) -> dict:
    """-X importtime (and, if wall, wall time of python -c) of each row in `runs` fresh processes.

    Rounds are interleaved, and in each round every row runs right after a bare boto3 import of
    its own: a burst of load from a neighbour on this shared machine then hits a pair alike, not
    all runs of one row. A row's ratio is the median of its per-pair ratios.
    """
    results: dict[str, dict] = {}
    rows = list(_cold_rows(floor_dir, layer))
    samples: dict[str, dict] = {
        name: {"imports": [], "walls": [], "nested": [], "packages": Counter(), "pairs": [], "wall_pairs": []}
        for name, *_ in rows
    }
    base_row = rows[0]
    for name, module, paths, env in rows:
        try:
            _wall(python, paths, module, env)  # warm the OS cache and __pycache__ once
        except subprocess.CalledProcessError as e:
            results[name] = {"error": (e.stderr or "")[-300:]}

    def sample(row: tuple, share: float) -> tuple[float, float | None]:
        name, module, paths, env = row
        got = samples[name]
        total, got["nested"], by_package = _importtime(python, paths, module, env)
        got["imports"].append(total)
        got["packages"].update({k: v * share for k, v in by_package.items()})
        seconds = _wall(python, paths, module, env) if wall else None
        if seconds is not None:
            got["walls"].append(seconds)
        return total, seconds

    pairs_per_round = max(1, len(rows) - 1)
    for _ in range(runs):
        for row in rows[1:]:
            if row[0] in results or "boto3" in results:
                continue
            try:
                base_import, base_wall = sample(base_row, 1 / (runs * pairs_per_round))
                row_import, row_wall = sample(row, 1 / runs)
            except subprocess.CalledProcessError as e:
                results[row[0]] = {"error": (e.stderr or "")[-300:]}
                continue
            samples[row[0]]["pairs"].append(row_import / base_import)
            if wall:
                samples[row[0]]["wall_pairs"].append(row_wall / base_wall)
    for name, got in samples.items():
        if name in results:
            continue
        imports, walls, nested, packages = got["imports"], got["walls"], got["nested"], got["packages"]
        r = results[name] = {
            "import_s": statistics.median(imports),
            "import_min_s": min(imports),
            "import_runs_s": imports,
            "top5": [{"module": m, "cumulative_s": c} for m, c in sorted(nested, key=lambda e: -e[1])[:5]],
            "self_s_by_package": dict(packages.most_common()),
        }
        if wall:
            r.update({"wall_s": statistics.median(walls), "wall_min_s": min(walls), "wall_runs_s": walls})
        if got["pairs"]:
            r["import_ratio"] = statistics.median(got["pairs"])
            if wall:
                r["wall_ratio"] = statistics.median(got["wall_pairs"])
    base, floor = results["boto3"], results[FLOOR]
    if "error" in base:
        return results
    for name, r in results.items():
        if "error" in r:
            continue
        r.setdefault("import_ratio", 1.0)  # boto3 itself; the others: median of per-pair ratios
        r["import_ratio_min"] = r["import_min_s"] / base["import_min_s"]
        measures = ["import"]
        if wall:
            r.setdefault("wall_ratio", 1.0)
            r["wall_ratio_min"] = r["wall_min_s"] / base["wall_min_s"]
            measures.append("wall")
        r["over_target"] = [k for k in measures if r[f"{k}_ratio"] > TARGET_COLD_RATIO]  # on the medians
        if name in HANDLERS and "error" not in floor:
            r["beyond_floor_s"] = r["import_s"] - floor["import_s"]
        extra = {k: v - base["self_s_by_package"].get(k, 0.0) for k, v in r["self_s_by_package"].items()}
        r["extra_self_s_vs_boto3"] = dict(
            sorted(((k, v) for k, v in extra.items() if v > 0.002), key=lambda e: -e[1])[:6]
        )
    return results


def bench_cold_starts(runs: int) -> dict:
    """Median and min -X importtime of importing each handler module, the dependency floor and bare boto3,
    in two environments: the dev venv ("venv", plus wall time) and Lambda's ("deployed": the base
    interpreter with -S and the built layer)."""
    out: dict[str, Any] = {"venv": {}, "deployed": {}, "setup": {}}
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as d:
        floor_dir = Path(d)
        (floor_dir / "app.py").write_text(FLOOR_CODE, encoding="utf-8")
        out["setup"]["venv"] = {"python": [str(PY)], "layer": None}
        out["venv"] = _cold_environment([str(PY)], [], floor_dir, runs, wall=True)
        try:
            python, layer = [_base_python(), "-S"], _deployed_layer()
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            out["deployed"] = {"error": f"{type(e).__name__}: {e}"}
            return out
        out["setup"]["deployed"] = {"python": python, "layer": str(layer)}
        out["deployed"] = _cold_environment(python, [str(layer)], floor_dir, runs, wall=False)
    return out


# ----------------------------------------------------------------------- 3: simulate wall time
def machine_seconds(additions: int = 10_000_000) -> float:
    """Seconds this machine's Python takes for a fixed loop: the wall times of different machines
    (or of one VM on different days: seen 3x apart) compare once divided by it."""
    t0 = time.perf_counter()
    total = 0
    for i in range(additions):
        total += i
    return time.perf_counter() - t0


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_simulate(n: int, fba_share: float) -> dict:
    machine = machine_seconds()
    fba = round(n * fba_share)
    mfn = n - fba
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as d:
        path, out = Path(d) / "scenario.json", Path(d) / "result.json"
        path.write_text(json.dumps(scenario(mfn, fba)), encoding="utf-8")
        t0, cpu0 = time.perf_counter(), _children_cpu()
        proc = subprocess.run(
            [str(CLI), "simulate", str(path), "--out", str(out), "--log", str(Path(d) / "log")],
            capture_output=True,
            text=True,
            timeout=280,
            check=False,
        )
        seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        result = json.loads(out.read_text()) if proc.returncode == 0 and out.exists() else None
    warnings = []
    if result is None:
        warnings.append(f"simulate exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    else:
        for o in result["orders"]:
            c = o["commerce_order"]
            if o["fulfillment"] == "MFN" and o["channel_status"] != "Shipped":
                warnings.append(f"MFN {o['amazon_order_id']} channel_status {o['channel_status']}: {o['notes']}")
            if o["fulfillment"] == "AFN" and (c is None or c["status"] != "complete"):
                warnings.append(f"FBA {o['amazon_order_id']} commerce order {c and c['status']}")
        if result["commerce_order_count"] != n:
            warnings.append(f"commerce_order_count {result['commerce_order_count']} != {n}")
    return {
        "orders": n,
        "mfn": mfn,
        "fba": fba,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "machine_seconds": machine,
        "orders_per_second": n / seconds,
        "exit_code": proc.returncode,
        "warnings": warnings,
    }


# ------------------------------------------------------------------------------------ output
def _rel(path: str) -> str:
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return path


def render(r: dict) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    con = Console(width=120)
    for key, error in r.get("errors", {}).items():
        con.print(f"[bold red]FAILED[/] {key}: {error}")
    if "mfn" in r:
        m = r["mfn"]
        sp, n = m["sp_api"], m["orders"]
        con.rule(
            f"1. SP-API calls per imported MFN order ({n} orders, {m['shipped']} Shipped, played in {m['seconds']}s)"
        )
        t = Table("figure", "total", "per order", "target")
        t.add_row("getOrder calls (429s included)", str(sp["getOrder"]), f"{sp['getOrder'] / n:.2f}", "≤ 1")
        ok = sp["getOrder"] - sp["throttled"]["getOrder"]
        t.add_row("getOrder calls answered 200", str(ok), f"{ok / n:.2f}", "≤ 1")
        t.add_row(
            "confirmShipment per package",
            str(sp["confirmShipment"]),
            f"{sp['confirmShipment'] / sp['packages']:.2f}",
            "1",
        )
        t.add_row("searchOrders", str(sp["searchOrders"]), f"{sp['searchOrders'] / n:.2f}", "0 (no order sync yet)")
        t.add_row("LWA token exchanges", str(sp["lwa_token"]), f"{sp['lwa_token'] / n:.3f}", "")
        throttled = ", ".join(f"{k} {v}" for k, v in sp["throttled"].items() if v) or "none"
        t.add_row("429 responses", throttled, f"{sum(sp['throttled'].values()) / n:.2f}", "")
        t.add_row("429s that failed a handler (AmazonThrottled)", str(sp["throttled_handler_failures"]), "", "0")
        t.add_row(
            "Commerce REST requests", str(sp["commerce_rest_requests"]), f"{sp['commerce_rest_requests'] / n:.1f}", ""
        )
        con.print(t)
    if "cold" in r:
        setup = r.get("cold_setup", {})
        for i, (env_name, explanation) in enumerate(COLD_ENVS.items()):
            rows = r["cold"].get(env_name, {})
            con.rule(
                f"2{'ab'[i]}. Cold-start import time, {env_name}: each handler vs bare `import boto3` (tracing on)"
            )
            con.print(f"  {explanation}")
            s = setup.get(env_name) or {}
            if s.get("layer"):
                con.print(f"  [dim]{' '.join(s['python'])} -X importtime; layer: {_rel(s['layer'])}")
            if isinstance(rows.get("error"), str):
                con.print(f"  [bold red]FAILED[/] {rows['error']}")
                continue
            wall = any("wall_s" in c for c in rows.values())
            cols = [
                Column("module", no_wrap=True),
                "importtime\nmedian ms",
                "min\nms",
                "ratio",
                "min\nratio",
                "beyond\nfloor ms",
            ]
            cols += ["wall\nmedian ms", "wall\nratio"] if wall else []
            cols.append(f"≤ {TARGET_COLD_RATIO}×\n(medians)")
            t = Table(
                *cols,
                title=f"median and min of {r['runs']} fresh processes; "
                "ratio: median over runs of each run vs a bare boto3 import just before it; "
                "min ratio: min vs min; the check is on the ratio",
            )
            for name, c in rows.items():
                if "error" in c:
                    t.add_row(name, "[red]failed", *[""] * (len(cols) - 3), c["error"].strip().splitlines()[-1][:12])
                    continue
                cells = [name, f"{c['import_s'] * 1000:.0f}", f"{c['import_min_s'] * 1000:.0f}"]
                if "import_ratio" in c:  # else boto3 itself failed: no ratios
                    cells += [
                        f"{c['import_ratio']:.2f}×",
                        f"{c['import_ratio_min']:.2f}×",
                        f"{c['beyond_floor_s'] * 1000:+.0f}" if "beyond_floor_s" in c else "",
                    ]
                    if wall:
                        cells += [f"{c['wall_s'] * 1000:.0f}", f"{c['wall_ratio']:.2f}×"] if "wall_s" in c else ["", ""]
                    cells.append(
                        "—"
                        if name == "boto3"
                        else (
                            "OVER: " + ("both" if len(c["over_target"]) > 1 else c["over_target"][0])
                            if c["over_target"]
                            else "ok"
                        )
                    )
                t.add_row(*cells)
            con.print(t)
            for name, c in rows.items():
                if "error" in c or name == "boto3" or not ("beyond_floor_s" in c or c.get("over_target")):
                    continue
                beyond = f" beyond the floor: {c['beyond_floor_s'] * 1000:+.0f} ms" if "beyond_floor_s" in c else ""
                con.print(f"  {name}:{beyond}")
                if c.get("over_target"):
                    con.print(
                        "    top cumulative (ms): "
                        + ", ".join(f"{e['module']} {e['cumulative_s'] * 1000:.0f}" for e in c["top5"])
                        + "\n    self time beyond bare boto3, by package (ms): "
                        + ", ".join(f"{k} +{v * 1000:.0f}" for k, v in c["extra_self_s_vs_boto3"].items())
                    )
    if "simulate" in r:
        s = r["simulate"]
        con.rule(
            f"3. amazon-channel simulate: {s['orders']} orders ({s['mfn']} MFN shipped by the merchant, {s['fba']} FBA)"
        )
        con.print(
            f"  wall {s['seconds']:.1f} s (CPU {s['cpu_seconds']:.1f} s), {s['orders_per_second']:.2f} orders/s, "
            f"exit code {s['exit_code']}"
        )
        con.print(
            f"  machine: 10 million Python additions took {s['machine_seconds']:.2f} s here "
            f"(wall / that = {s['seconds'] / s['machine_seconds']:.1f}, comparable across machines)"
        )
        for w in s["warnings"][:10]:
            con.print(f"  [bold red]WARNING[/] {w}")
        if not s["warnings"]:
            con.print(
                "  result checked: every MFN order Shipped, every FBA order complete in Commerce, "
                f"commerce_order_count == {s['orders']}"
            )
    if "mfn" in r:
        m, n = r["mfn"], r["mfn"]["orders"]
        con.rule(f"4. Per MFN order: state transitions, AWS requests, cost ({n} orders)")
        con.print(
            f"  Standard executions {m['executions']}, state transitions {m['state_transitions']} "
            f"({m['state_transitions'] / n:.1f}/order), task retries {m['task_retries']}; Express child executions "
            f"{m['express_executions']} ({m['express_executions'] / n:.1f}/order, "
            f"{m['express_billed_seconds'] / max(1, m['express_executions']):.1f} s billed each)"
        )
        t = Table("made by", "service", "operation", "total", "per order")
        for c in m["aws_calls"]:
            t.add_row(c["by"], c["service"], c["operation"], str(c["count"]), f"{c['count'] / n:.2f}")
        t.add_row(
            "anyone (moto)",
            "sqs",
            "messages sent (1 request each)",
            str(m["sqs_messages_sent"]),
            f"{m['sqs_messages_sent'] / n:.2f}",
        )
        t.add_row(
            "anyone (moto)", "events", "events put", str(m["eventbridge_events"]), f"{m['eventbridge_events'] / n:.2f}"
        )
        t.add_row(
            "handler",
            "dynamodb",
            "write request units (approx.)",
            f"{m['dynamodb_wru']:.0f}",
            f"{m['dynamodb_wru'] / n:.1f}",
        )
        t.add_row(
            "handler",
            "dynamodb",
            "read request units (approx.)",
            f"{m['dynamodb_rru']:.1f}",
            f"{m['dynamodb_rru'] / n:.1f}",
        )
        con.print(t)
        t = Table("Lambda function", "invocations", "per order", "errors", "mean handler ms")
        for name, f in m["lambda"].items():
            t.add_row(
                name,
                str(f["count"]),
                f"{f['count'] / n:.2f}",
                str(f["errors"]),
                f"{f['seconds'] / f['count'] * 1000:.0f}",
            )
        con.print(t)
        cost = r["cost"]
        t = Table("service", "billed quantity", "per 1,000 MFN orders", "unit price $", "$ per 1,000 orders")
        for row in cost["rows"]:
            t.add_row(
                row["service"],
                row["unit"],
                f"{row['per_1000_orders']:,.3f}",
                f"{row['unit_price']:.10g}",
                f"{row['usd']:.4f}",
            )
        t.add_row("[bold]total", "", "", "", f"[bold]{cost['total_usd']:.4f}")
        con.print(t)
        con.print(
            "  Express duration: the children's Lambda steps' handler time (as for Lambda compute) + 100 ms per "
            "execution. "
            "Excluded: X-Ray (Tracing: Active; $5.00 per 1M traces recorded beyond the free tier, volume set by "
            "sampling: 1/s + 5%); Lambda INIT (cold starts depend on concurrency, not on orders; see 2.); free "
            "tiers; data transfer; KMS (AWS-owned keys); DynamoDB storage/PITR; EventBridge archive; idle SQS "
            "polling; Powertools metrics (disabled locally). Handler time is measured in-process against moto."
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=50, help="orders per scenario (default 50)")
    p.add_argument(
        "--runs",
        type=int,
        default=7,
        help="fresh processes per module, measure and environment for cold starts (default 7)",
    )
    p.add_argument("--fba-share", type=float, default=0.2, help="share of FBA orders in figure 3 (default 0.2)")
    p.add_argument(
        "--only",
        choices=["sp-api", "cold", "simulate", "cost"],
        action="append",
        help="run only these figures (sp-api and cost share one run)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args()
    only = set(args.only or ["sp-api", "cold", "simulate", "cost"])
    r: dict[str, Any] = {"orders": args.orders}
    t0 = time.perf_counter()
    jobs = {
        "mfn": (bool(only & {"sp-api", "cost"}), bench_mfn, args.orders),
        "cold": ("cold" in only, bench_cold_starts, args.runs),
        "simulate": ("simulate" in only, bench_simulate, args.orders, args.fba_share),
    }
    r["runs"] = args.runs
    for key, (wanted, fn, *fn_args) in jobs.items():
        if not wanted:
            continue
        try:
            r[key] = fn(*fn_args)
        except Exception as e:  # noqa: BLE001 - report the failure, go on with the other figures
            r.setdefault("errors", {})[key] = f"{type(e).__name__}: {e}"
    if "cold" in r:
        r["cold_setup"] = r["cold"].pop("setup")  # r["cold"]: {"venv": {row: ...}, "deployed": {row: ...}}
    if "mfn" in r:
        r["cost"] = aws_cost(r["mfn"])
    r["total_seconds"] = time.perf_counter() - t0
    if args.json:
        try:
            print(json.dumps(r, indent=2), flush=True)
        except BrokenPipeError:  # piped into head: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    else:
        render(r)
        print(f"\n(benchmark took {r['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
