"""The sample events in events/ are what the handlers accept, and Amazon's sample follows Amazon's schema."""

import json
from pathlib import Path

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope

from amazon_channel.contracts import (
    AwaitShipmentsInput,
    ChannelOrderEvent,
    CommerceShipmentSaved,
    WorkflowState,
    parse_notification,
)
from amazon_channel_local.sp_api_models import validate_notification

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load(path):
    return json.loads((EVENTS / path).read_text())


def test_every_function_has_a_sample_event():
    assert {p.name for p in FUNCTIONS.iterdir() if p.is_dir()} <= {
        p.name for p in EVENTS.iterdir() if any(p.glob("*.json"))
    }


def test_the_notification_sample_is_a_valid_order_change():
    body = load("order_notification_intake/unshipped.json")["Records"][0]["body"]
    validate_notification(json.loads(body))
    assert parse_notification(body).to_order_change().status == "Unshipped"


def test_the_eventbridge_samples_parse_out_of_their_envelope():
    shipment = json.loads(load("commerce_shipment_intake/shipment-saved.json")["Records"][0]["body"])
    saved = CommerceShipmentSaved.parse(shipment)
    assert (saved.shipment_id, saved.commerce_order_id) == (1, 1)
    fba = json.loads(load("fba_order_import/fba-order-shipped.json")["Records"][0]["body"])
    assert parse(event=fba, model=ChannelOrderEvent, envelope=EventBridgeEnvelope).amazon_order_id


def test_the_workflow_task_samples_parse():
    for folder in (
        "fetch_order_details",
        "resolve_customer",
        "create_commerce_order",
        "confirm_shipments",
        "complete_order",
        "record_order_error",
    ):
        parse(event=load(f"{folder}/task-input.json"), model=WorkflowState)
    parse(event=load("await_shipments/task-input.json"), model=AwaitShipmentsInput)
