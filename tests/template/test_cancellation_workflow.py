"""The cancellation paths of the MFN state machine and the functions behind them."""

import json
from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachines" / "mfn_order.asl.json").read_text())
SHIPMENTS = json.loads((ROOT / "statemachines" / "mfn_order_shipments.asl.json").read_text())
RESOURCES = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]


def _routed(outcome: str) -> str:
    """Where the workflow goes when the shipments child reports `outcome`."""
    [catch] = [c for c in ASL["States"]["ShipOrder"]["Catch"] if c["ErrorEquals"] == [outcome]]
    return catch["Next"]


def _reported(choice_next: str) -> str:
    return SHIPMENTS["States"][choice_next]["Parameters"]["Error"]


def test_a_canceled_order_withdraws_its_commerce_order_before_the_workflow_succeeds():
    states = ASL["States"]
    choices = SHIPMENTS["States"]["AllShipped"]["Choices"]
    assert choices[0]["Variable"] == "$.canceled" and choices[0]["BooleanEquals"] is True
    assert _routed(_reported(choices[0]["Next"])) == "CancelCommerceOrder"
    assert states["CancelCommerceOrder"]["Parameters"]["FunctionName"] == "${CancelCommerceOrderFunctionArn}"
    assert states["CancelCommerceOrder"]["Next"] == "OrderCanceled" and states["OrderCanceled"]["Type"] == "Succeed"


def test_a_merchant_cancellation_is_sent_then_checked_until_amazon_has_processed_it():
    states = ASL["States"]
    assert _routed(_reported(SHIPMENTS["States"]["AllShipped"]["Choices"][1]["Next"])) == "RequestCancellationOnAmazon"
    request = states["RequestCancellationOnAmazon"]
    assert request["Parameters"]["FunctionName"] == "${RequestAmazonCancellationFunctionArn}"
    assert request["Next"] == "CancellationProcessed"
    processed = states["CancellationProcessed"]
    assert processed["Choices"] == [
        {"Variable": "$.cancellation", "StringEquals": "pending", "Next": "WaitForCancellationFeed"}
    ]
    assert processed["Default"] == "WaitForShipments"  # accepted: Amazon's Canceled wakes it; refused: noted
    assert states["WaitForCancellationFeed"] == {
        **states["WaitForCancellationFeed"],
        "Type": "Wait",
        "Next": "RequestCancellationOnAmazon",
    }


def test_each_cancellation_function_may_do_only_its_part():
    def policies(logical_id):
        return json.dumps(RESOURCES[logical_id]["Properties"]["Policies"])

    assert "SpApiCredentialsSecret" not in policies("CancelCommerceOrderFunction")  # Commerce only
    assert "SpApiCredentialsSecret" in policies("RequestAmazonCancellationFunction")
    intake = policies("CommerceCancellationIntakeFunction")
    assert "states:SendTaskSuccess" in intake and "CommerceCancellationsDeadLetterQueue" in intake
    assert "SpApiCredentialsSecret" not in intake
    env = RESOURCES["CommerceCancellationIntakeFunction"]["Properties"]["Environment"]["Variables"]
    assert env["PARKING_QUEUE_URL"] == {"Ref": "CommerceCancellationsDeadLetterQueue"}
