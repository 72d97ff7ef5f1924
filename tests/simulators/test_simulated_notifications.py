"""The simulated Amazon's Notifications API, held to the official model: a destination for an SQS
queue and a seller's ORDER_CHANGE subscription, with the grantless token the model asks for.

Input comes from the model's own examples, unchanged: the createDestination example's name and
queue, the createSubscription example's payload version. (The model's sandbox cases for these
operations send no parameters at all, so they serve as the shape of the answer.)
"""

from __future__ import annotations

import json

import pytest
import urllib3

from amazon_channel_local.simulators.amazon import SimulatedAmazon
from amazon_channel_local.sp_api_models import response_examples, sandbox_cases, validate_response

HTTP = urllib3.PoolManager()


@pytest.fixture
def amazon():
    with SimulatedAmazon() as sim:
        yield sim


def token(amazon, **fields) -> tuple[int, dict]:
    r = HTTP.request(
        "POST",
        amazon.lwa_token_url,
        encode_multipart=False,
        fields={"client_id": amazon.client_id, "client_secret": amazon.client_secret, **fields},
    )
    return r.status, json.loads(r.data)


def grantless(amazon) -> str:
    return token(amazon, grant_type="client_credentials", scope="sellingpartnerapi::notifications")[1]["access_token"]


def seller(amazon) -> str:
    return token(amazon, grant_type="refresh_token", refresh_token=amazon.refresh_token)[1]["access_token"]


def call(amazon, method, path, access, body=None) -> tuple[int, dict]:
    r = HTTP.request(
        method,
        amazon.base_url + path,
        headers={"x-amz-access-token": access, "content-type": "application/json"},
        body=None if body is None else json.dumps(body).encode(),
    )
    return r.status, json.loads(r.data or b"{}")


def example(operation: str) -> dict:
    [(status, body)] = response_examples(operation)
    assert status == 200
    return body["payload"]


def test_a_destination_and_a_subscription_as_the_models_examples_show(amazon):
    # Given the application's grantless token and the seller's token
    app, me = grantless(amazon), seller(amazon)
    # When the destination of the model's example is created
    wanted = example("createDestination")
    status, made = call(
        amazon,
        "POST",
        "/notifications/v1/destinations",
        app,
        {"name": wanted["name"], "resourceSpecification": wanted["resource"]},
    )
    # Then it is answered as the example is, with a new id, and listed
    assert status == 200 and {**made["payload"], "destinationId": wanted["destinationId"]} == wanted
    assert call(amazon, "GET", "/notifications/v1/destinations", app)[1]["payload"] == [made["payload"]]
    # When the seller subscribes to ORDER_CHANGE with the example's payload version
    version = example("createSubscription")["payloadVersion"]
    status, sub = call(
        amazon,
        "POST",
        "/notifications/v1/subscriptions/ORDER_CHANGE",
        me,
        {"payloadVersion": version, "destinationId": made["payload"]["destinationId"]},
    )
    # Then getSubscription finds it, shaped as the model's sandbox answer
    assert status == 200
    status, found = call(amazon, "GET", "/notifications/v1/subscriptions/ORDER_CHANGE?payloadVersion=1.0", me)
    assert status == 200 and found == sub
    [case] = sandbox_cases("getSubscription")
    assert set(found["payload"]) == set(case.response["payload"])
    # And a second subscription, or a second destination for the queue, is a conflict
    assert (
        call(
            amazon,
            "POST",
            "/notifications/v1/subscriptions/ORDER_CHANGE",
            me,
            {"payloadVersion": version, "destinationId": made["payload"]["destinationId"]},
        )[0]
        == 409
    )
    assert (
        call(
            amazon,
            "POST",
            "/notifications/v1/destinations",
            app,
            {"name": "again", "resourceSpecification": wanted["resource"]},
        )[0]
        == 409
    )
    # And the ORDER_CHANGE notifications name the subscription
    amazon.place_order({"items": [{"sku": "MUG-01", "price": "10.00"}]})
    assert (
        json.loads(amazon.notifications_sent[-1])["NotificationMetadata"]["SubscriptionId"]
        == sub["payload"]["subscriptionId"]
    )
    # And the grantless deleteSubscriptionById removes it
    sid = sub["payload"]["subscriptionId"]
    assert call(amazon, "DELETE", f"/notifications/v1/subscriptions/ORDER_CHANGE/{sid}", app) == (200, {})
    assert call(amazon, "GET", "/notifications/v1/subscriptions/ORDER_CHANGE", me)[0] == 404


def test_each_operation_takes_only_its_kind_of_token(amazon):
    app, me = grantless(amazon), seller(amazon)
    # Destinations are grantless: a seller's token is refused
    assert call(amazon, "GET", "/notifications/v1/destinations", me)[0] == 403
    # Subscriptions act for a seller: the application's token is refused
    assert call(amazon, "GET", "/notifications/v1/subscriptions/ORDER_CHANGE", app)[0] == 403
    # A grantless token is not an SP-API token for orders either
    assert call(amazon, "GET", "/orders/2026-01-01/orders/113-0000000-0000001", app)[0] == 403
    # LWA grants no other scope, and no grantless token to a wrong client secret
    assert (
        token(amazon, grant_type="client_credentials", scope="sellingpartnerapi::orders")[1]["error"] == "invalid_scope"
    )
    status, refused = token(
        amazon, grant_type="client_credentials", scope="sellingpartnerapi::notifications", client_secret="wrong"
    )
    assert status == 401 and refused["error"] == "invalid_client"


def test_bodies_outside_the_model_are_refused_with_its_error_list(amazon):
    app = grantless(amazon)
    status, body = call(
        amazon,
        "POST",
        "/notifications/v1/destinations",
        app,
        {"name": "x", "resourceSpecification": {"sqs": {"arn": "not-an-arn"}}},
    )
    assert status == 400 and "arn" in body["errors"][0]["message"]
    validate_response("createDestination", status, body)
    status, body = call(
        amazon, "POST", "/notifications/v1/subscriptions/ORDER_CHANGE", seller(amazon), {"destinationId": "unknown"}
    )
    assert status == 400 and "payloadVersion" in body["errors"][0]["message"]
