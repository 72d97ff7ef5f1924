"""What a handler loads when Lambda imports it (its cold start), checked by what is loaded, not by
timing: timings are measured by bench/run_benchmarks.py (figure 2), never asserted here.

Each handler is imported in a fresh interpreter with Lambda's environment and tracing on.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
# The channel's own events are parsed out of their EventBridge envelope (Powertools Parser envelope);
# the Commerce intakes parse the whole event (the payload may sit at several places in `detail`).
ENVELOPED = {"fba_order_import"}

PROBE = """
import json, sys
sys.path[:0] = [{function!r}, {layer!r}]
import app
from amazon_channel import runtime
from amazon_channel.domain import models
import aws_xray_sdk.core.patcher as patcher
built = sorted(n for n, m in vars(models).items()
               if isinstance(m, type) and issubclass(m, models.Model) and m is not models.Model and m.__pydantic_complete__)
print(json.dumps({{
    "tracing": not runtime.tracer.disabled,
    "patched": sorted(patcher._PATCHED_MODULES),
    "asyncio": "asyncio" in sys.modules,
    "envelopes": "aws_lambda_powertools.utilities.parser.envelopes" in sys.modules,
    "orders_view": "amazon_channel.domain.orders_view" in sys.modules,
    "oauthlib": "oauthlib" in sys.modules,
    "built_models": built,
}}))
"""


def imported(handler: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": handler,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": str(ROOT / "functions" / handler),
            "AWS_REGION": "us-east-1",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "POWERTOOLS_SERVICE_NAME": "amazon-channel",
        }
    )
    code = PROBE.format(function=str(ROOT / "functions" / handler), layer=str(ROOT / "layers" / "channel"))
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT / "functions" / handler,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_cold_start_loads_only_what_the_handler_needs(handler):
    # Given a handler module, as Lambda imports it with tracing on
    loaded = imported(handler)

    # Then the X-Ray SDK patches the AWS SDK only: no HTTP URLs (a Commerce customer search
    # carries the buyer's email in its query) are recorded, and no database drivers are probed
    assert loaded["tracing"] is True
    assert loaded["patched"] == ["botocore"]
    # And no pydantic validator is built before the first event arrives
    assert loaded["built_models"] == []
    # And the Powertools envelopes (all sixteen load together) only where an envelope is parsed
    assert loaded["envelopes"] == (handler in ENVELOPED)
    # And the Orders view's models only in the Orders view
    assert loaded["orders_view"] == (handler == "orders_view")
    # And oauthlib only when the first Commerce request is signed (a handler may never call Commerce)
    assert loaded["oauthlib"] is False


# Powertools batch (an async processor) and the HTTP event handler load asyncio themselves.
LOADS_ASYNCIO = {
    "order_notification_intake",
    "fba_order_import",
    "commerce_shipment_intake",
    "commerce_cancellation_intake",
    "orders_view",
}


@pytest.mark.parametrize("handler", sorted(set(HANDLERS) - LOADS_ASYNCIO))
def test_a_workflow_step_does_not_load_asyncio(handler):
    # Given a handler that is neither a batch processor nor the HTTP API
    # When Lambda imports it with tracing on
    # Then asyncio is not loaded: wrapt 2.x, under the X-Ray SDK, would load it (~10 ms)
    assert imported(handler)["asyncio"] is False
