"""Helpers shared by the stories played on one embedded stack per test module."""

from __future__ import annotations

import json

from amazon_channel.adapters.dynamodb_orders import DynamoDbOrderStore
from amazon_channel_local.player import Player


def orders(player: Player) -> DynamoDbOrderStore:
    """The stack's channel orders, read through the product's own adapter."""
    return DynamoDbOrderStore(player.stack.resources["OrdersTable"], player.stack.client("dynamodb"))


def end_waiting_workflows(player: Player) -> None:
    """A finished story leaves no workflow waiting for a shipment, so the next settle() stays quick.

    (moto's StopExecution does not end a task-token wait: fail the waiting task instead.)
    """
    sfn, store = player.stack.client("stepfunctions"), orders(player)
    for execution in player.stack.executions():
        if execution["status"] == "RUNNING":
            order = store.get(json.loads(execution["input"])["amazon_order_id"])
            if order is not None and order.task_token:
                sfn.send_task_failure(taskToken=order.task_token, error="StoryOver", cause="the test story is over")
    player.stack.settle()
