"""The channel's events for the ERP (amazon_channel.domain.channel_events): their published JSON
Schemas (events/schemas/) are the models', and what the channel and its workflow put on the bus
fits them."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from amazon_channel.domain.channel_events import (
    EVENTS,
    SOURCE,
    CommerceOrderCreated,
    FbaOrderShipped,
    OrderShipped,
    ShipmentConfirmedToAmazon,
)
from amazon_channel_local import event_schemas

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"amazon_order_id": "113-0000000-0000001", "seller_id": "A1SELLER", "marketplace_id": "ATVPDKIKX0DER"}
EXAMPLES = [
    FbaOrderShipped(**ORDER),
    CommerceOrderCreated(**ORDER, commerce_increment_id="000000042"),
    ShipmentConfirmedToAmazon(**ORDER, package_reference_id="pkg-1"),
    OrderShipped(**ORDER, commerce_increment_id="000000042"),
]


def on_the_bus(event) -> dict:
    """The event as an EventBridge rule's target receives it."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": event.detail_type,
        "source": SOURCE,
        "account": "123456789012",
        "time": "2026-12-02T03:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": event.detail(),
    }


def test_the_published_schemas_are_the_ones_the_models_generate(capsys):
    """Given events/schemas/ as committed, then it is what the models generate (else run
    `python -m amazon_channel_local.event_schemas` and commit the result)."""
    assert event_schemas.main(["--check"]) == 0, capsys.readouterr().out
    assert sorted(p.name for p in event_schemas.SCHEMAS.glob("*.json")) == sorted(
        f"{e.detail_type}.json" for e in EVENTS
    )


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.detail_type)
def test_each_event_the_erp_receives_fits_its_published_schema(event):
    schema = json.loads((event_schemas.SCHEMAS / f"{event.detail_type}.json").read_text())
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(on_the_bus(event))]
    assert errors == []


def test_a_schema_refuses_an_event_of_another_kind_or_without_its_order():
    schema = json.loads((event_schemas.SCHEMAS / "CommerceOrderCreated.json").read_text())
    other = on_the_bus(OrderShipped(**ORDER, commerce_increment_id="000000042"))
    assert not Draft202012Validator(schema).is_valid(other)
    created = on_the_bus(EXAMPLES[1])
    del created["detail"]["amazon_order_id"]
    assert not Draft202012Validator(schema).is_valid(created)


def test_every_copy_of_an_order_s_announcement_has_one_event_id():
    """Given the same order announced twice, then both copies carry `<detail-type>:<AmazonOrderId>`."""
    first = CommerceOrderCreated(**ORDER, commerce_increment_id="000000042")
    again = CommerceOrderCreated(**ORDER, commerce_increment_id="000000042")
    assert first.event_id == again.event_id == "CommerceOrderCreated:113-0000000-0000001"


def _announcements() -> dict[str, set[str]]:
    """detail-type -> the Detail keys of each events:putEvents task of the MFN workflow."""
    definition = json.loads((ROOT / "statemachines" / "mfn_order.asl.json").read_text())
    found: dict[str, set[str]] = {}

    def visit(states: dict) -> None:
        for state in states.values():
            if state.get("Resource") == "arn:aws:states:::events:putEvents":
                for entry in state["Parameters"]["Entries"]:
                    assert entry["Source"] == SOURCE
                    found[entry["DetailType"]] = {k.removesuffix(".$") for k in entry["Detail"]}
            for branch in state.get("Branches", []):
                visit(branch["States"])

    visit(definition["States"])
    return found


def test_the_workflow_announces_exactly_the_models_fields():
    """Given the MFN workflow's own PutEvents tasks, then each sends the fields of its event's model,
    so the published schema holds for them too."""
    models = {e.detail_type: e for e in EVENTS}
    announcements = _announcements()
    assert announcements, "the MFN workflow announces its orders"
    for detail_type, keys in announcements.items():
        assert keys == set(models[detail_type].model_fields), detail_type
