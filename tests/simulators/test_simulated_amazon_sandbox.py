"""Amazon's own sandbox cases, read from the models unchanged, played against the simulated Amazon.

For every operation the channel calls, each static `x-amzn-api-sandbox` case of the model is sent
as it stands; the simulator's answer must validate against the model, with the status the case
expects. Where the simulator cannot answer as Amazon's sandbox does (the case names a feed or a
page token the simulator never issued), the expected status and the reason are listed below.
"""

from __future__ import annotations

import json

import pytest
import urllib3

from amazon_channel_local.simulators.amazon import SimulatedAmazon
from amazon_channel_local.sp_api_models import SandboxCase, response_examples, sandbox_cases, validate_response

HTTP = urllib3.PoolManager()
CHANNEL_OPERATIONS = (
    "searchOrders",
    "getOrder",
    "confirmShipment",
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeedDocument",
)
CASES = [case for op in CHANNEL_OPERATIONS for case in sandbox_cases(op)]

UNKNOWN_TO_THE_SIMULATOR = 404, "an id the simulator never issued: not found, whatever its spelling"
DIFFERENT_ANSWERS = {
    "searchOrders-200-1": (400, "a paginationToken the simulator never issued is refused"),
    "createFeed-202-0": (
        400,
        "only the order cancellation feed is simulated, and its input document was never created here",
    ),
    "getFeed-200-0": UNKNOWN_TO_THE_SIMULATOR,
    "getFeed-400-0": UNKNOWN_TO_THE_SIMULATOR,
    "getFeedDocument-200-0": UNKNOWN_TO_THE_SIMULATOR,
    "getFeedDocument-400-0": UNKNOWN_TO_THE_SIMULATOR,
}


@pytest.fixture(scope="module")
def amazon():
    sim = SimulatedAmazon(enforce_rate_limits=False).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def access(amazon):
    r = HTTP.request(
        "POST",
        amazon.lwa_token_url,
        encode_multipart=False,
        fields={
            "grant_type": "refresh_token",
            "refresh_token": amazon.refresh_token,
            "client_id": amazon.client_id,
            "client_secret": amazon.client_secret,
        },
    )
    return json.loads(r.data)["access_token"]


def the_order_the_case_names(amazon: SimulatedAmazon, case: SandboxCase) -> None:
    """Given: the paid order a 2xx case reads or ships exists on the simulated Amazon."""
    order_id = case.parameters.get("orderId")
    body = case.parameters.get("body") or {}
    marketplaces = case.parameters.get("marketplaceIds") or [body.get("marketplaceId") or "ATVPDKIKX0DER"]
    if case.status >= 300 or case.operation_id not in ("searchOrders", "getOrder", "confirmShipment"):
        return
    if order_id and order_id in amazon._orders:
        return
    lines = (body.get("packageDetail") or {}).get("orderItems") or [{"quantity": 1}]
    spec = {
        "id": order_id,
        "marketplace": marketplaces[0],
        "items": [
            {
                "sku": f"SKU-{n}",
                "qty": ln["quantity"],
                "price": "10.00",
                **({"order_item_id": ln["orderItemId"]} if "orderItemId" in ln else {}),
            }
            for n, ln in enumerate(lines)
        ],
    }
    amazon.verify_payment(amazon.place_order(spec))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_amazons_sandbox_case_gets_a_model_answer_from_the_simulator(amazon, access, case):
    the_order_the_case_names(amazon, case)
    method, path, query, body = case.http_request()
    # When the case's request is sent as Amazon's model gives it
    headers = {"x-amz-access-token": access, **({"content-type": "application/json"} if body is not None else {})}
    r = HTTP.request(
        method,
        amazon.base_url + path,
        fields=query or None,
        headers=headers,
        retries=False,
        body=json.dumps(body) if body is not None else None,
    )
    answer = json.loads(r.data) if r.data else None
    # Then the answer is one the model allows, with the status the case expects
    validate_response(case.operation_id, r.status, answer)
    expected, why = DIFFERENT_ANSWERS.get(case.id, (case.status, "as Amazon's sandbox"))
    assert r.status == expected, why
    if r.status == 200 and case.operation_id == "getOrder":
        assert answer["order"]["orderId"] == case.parameters["orderId"]
    if r.status == 200 and case.operation_id == "searchOrders":
        assert answer["orders"] and {o["salesChannel"]["marketplaceId"] for o in answer["orders"]} == set(
            case.parameters["marketplaceIds"]
        )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_amazons_sandbox_answers_are_valid_by_the_validators_the_simulator_uses(case):
    # The validators are held to Amazon's own answers: they refuse none of them
    validate_response(case.operation_id, case.status, case.response or None)


@pytest.mark.parametrize("operation_id", ["searchOrders", "getOrder"])
def test_amazons_example_answers_are_valid_by_the_same_validators(operation_id):
    examples = response_examples(operation_id)
    assert examples
    for status, body in examples:
        validate_response(operation_id, status, body)
