"""The Orders view keeps its contract: api/orders-view.openapi.yaml, checked against the real handler.

Given a local stack holding a few dozen orders (written with the order store's own items), the
real OrdersViewFunction is served on 127.0.0.1 behind an API Gateway HTTP API adapter (payload
2.0), and schemathesis sends it requests generated from the OpenAPI description: valid ones
(every answer must be documented and match its schema) and invalid ones (every one must be
refused with a 4xx). Bounded: a fixed seed and a few dozen examples per operation.

The description is also kept in step with the template (the routes and their IAM auth) and the
handler (the query parameters it accepts).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

# Hypothesis keeps caches in ./.hypothesis unless told otherwise: keep the work tree clean.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "amazon-channel-hypothesis"))

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from samtranslator.yaml_helper import yaml_parse

from amazon_channel.domain.orders_view import PARAMETERS
from amazon_channel_local.http_api import HttpApiAdapter, http_api_routes, serve
from amazon_channel_local.sample_orders import SELLER, sample_orders, write_orders
from amazon_channel_local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "api" / "orders-view.openapi.yaml"
MAX_EXAMPLES = 25
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]


@pytest.fixture(scope="module")
def served():
    """A local stack with 40 orders of one store; its Orders view on a loopback port."""
    with LocalStack(log_stream=io.StringIO(), environment_overrides={"POWERTOOLS_TRACE_DISABLED": "true"}) as stack:
        write_orders(stack.resources["OrdersTable"], stack.client("dynamodb"), sample_orders(40))
        with serve(HttpApiAdapter(stack, "OrdersViewFunction", require_auth=True)) as url:
            yield url


schema = schemathesis.openapi.from_path(SPEC)
schema.config.generation.update(
    modes=["positive", "negative"], max_examples=MAX_EXAMPLES, deterministic=True, database="none"
)
schema.config.checks.update(included_check_names=CHECKS)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_the_api_answers_as_its_openapi_description_says(case, served):
    # Given a request generated from the description (the seller's id pinned on valid ones, so lists have rows)
    if case.query is not None and case.meta and not case.meta.generation.mode.is_negative:
        case.query.setdefault("seller_id", SELLER)
    # When it is sent, then the answer conforms (and an invalid request is refused)
    case.call_and_validate(base_url=served)


# -- the description, the template and the handler agree ------------------------------------------
def test_the_description_is_valid_openapi_3():
    validate(yaml_parse(SPEC.read_text()))


def test_the_description_has_exactly_the_template_s_routes_all_behind_iam():
    spec = yaml_parse(SPEC.read_text())
    documented = {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops}
    routes = {r.key for r in http_api_routes(ROOT / "template.yaml", "OrdersViewFunction")}
    assert documented == routes
    api = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["OrdersApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM" and api["Auth"]["EnableIamAuthorizer"] is True
    assert spec["security"] == [{"sigv4": []}]


def test_the_list_s_documented_parameters_are_the_ones_the_handler_accepts():
    spec = yaml_parse(SPEC.read_text())
    documented = {p["name"] for p in spec["paths"]["/orders"]["get"]["parameters"]}
    assert documented == set(PARAMETERS)
