"""Helpers shared by the stories played on one embedded stack per test module."""

from __future__ import annotations

import json

from amazon_channel.adapters.dynamodb_orders import DynamoDbOrderStore
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse


def orders(player: Player) -> DynamoDbOrderStore:
    """The stack's channel orders, read through the product's own adapter."""
    return DynamoDbOrderStore(player.stack.resources["OrdersTable"], player.stack.client("dynamodb"))


def end_waiting_workflows(player: Player) -> None:
    """A finished story leaves no workflow waiting for a shipment, so the next settle() stays quick.

    (moto's StopExecution does not end a task-token wait: fail the waiting task instead.)
    """
    sfn, store = player.stack.client("stepfunctions"), orders(player)
    for execution in running_executions(player):
        order = store.get(json.loads(execution["input"])["amazon_order_id"])
        if order is not None and order.task_token:
            sfn.send_task_failure(taskToken=order.task_token, error="StoryOver", cause="the test story is over")
    player.stack.settle()


def running_executions(player: Player) -> list[dict]:
    """The workflows still running, described (only those: a module's stories leave hundreds finished)."""
    stack, running = player.stack, []
    sfn = stack.client("stepfunctions")
    machines = {
        arn for lid, arn in stack.resources.items() if stack.resource_types[lid] == "AWS::StepFunctions::StateMachine"
    }
    for sm_arn in sorted(machines):
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=sm_arn, statusFilter="RUNNING")
        running += [sfn.describe_execution(executionArn=e["executionArn"]) for p in pages for e in p["executions"]]
    return running


def a_paid_order(player: Player, oid: str, buyer: tuple[str, str]) -> str:
    """The buyer orders two mugs and Amazon verifies the payment; both notifications wait in the queue."""
    name, email = buyer
    place = parse(
        {
            "steps": [
                {
                    "do": "amazon.place_order",
                    "order": {
                        "id": oid,
                        "buyer": {"name": name, "email": email},
                        "items": [{"sku": "MUG-01", "qty": 2, "price": "12.50", "tax": "1.00"}],
                    },
                }
            ]
        },
        "story",
    ).steps[0]
    player.scenario.steps.append(place)  # so that player.result() reports it
    player.run(place)
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    return oid


def merchant_ships(player: Player, oid: str) -> None:
    player.run(Step(0, "commerce.ship", {"order_id": oid, "carrier": "UPS", "tracking_number": f"1Z{oid[4:11]}"}))


def a_quiet_spell(player: Player) -> None:
    """Stories are independent: each starts as after a quiet spell, with Amazon's usage plans (and
    the channel's rate budgets that mirror them, `RATE#<seller>#<operation>`) full again. Without
    it the later stories wait for quotas the earlier ones used."""
    ddb, table = player.stack.client("dynamodb"), player.stack.resources["OrdersTable"]
    for seller, operation in player.amazon.quotas_used():
        ddb.delete_item(TableName=table, Key={"pk": {"S": f"RATE#{seller}#{operation}"}, "sk": {"S": "BUDGET"}})
    player.amazon.refill_quotas()
