"""How the embedded stack reads a role: IAM's evaluation, and the actions each call needs (AWS docs)."""

import json

from amazon_channel_local.iam import KNOWN_MANAGED_POLICIES, IamEnforcer, Role, Statement

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:notifications"


def role(*statements: dict) -> Role:
    r = Role("Fn", "FnRole", "fn", "123456789012")
    r.statements = [Statement.parse("p", s) for s in statements]
    return r


def enforcer() -> IamEnforcer:
    return IamEnforcer({}, "us-east-1", "123456789012")


def test_a_grant_on_a_table_does_not_reach_its_indexes_nor_another_table():
    r = role({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": TABLE})
    assert r.evaluate("dynamodb:GetItem", TABLE).allowed
    assert not r.evaluate("dynamodb:Query", TABLE + "/index/OrdersView").allowed
    assert not r.evaluate("dynamodb:GetItem", TABLE + "-archive").allowed
    assert not r.evaluate("dynamodb:DeleteItem", TABLE).allowed


def test_wildcards_actions_ignore_case_arns_do_not():
    r = role({"Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": TABLE + "/index/*"})
    assert r.evaluate("dynamodb:GetItem", TABLE + "/index/OrdersView").allowed
    assert not r.evaluate("dynamodb:GetItem", TABLE.upper() + "/index/OrdersView").allowed


def test_an_explicit_deny_wins_over_a_managed_allow_on_every_queue():
    r = role(
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["sqs:ReceiveMessage"], "NotResource": QUEUE},
    )
    assert r.evaluate("sqs:ReceiveMessage", QUEUE).allowed
    other = r.evaluate("sqs:ReceiveMessage", QUEUE + "-other")
    assert not other.allowed and other.explicit_deny


def test_a_transaction_needs_the_per_item_actions_on_each_table():
    """AWS: "Using IAM with DynamoDB transactions" (PutItem, UpdateItem, DeleteItem, ConditionCheckItem)."""
    items = [
        {"Put": {"TableName": "orders"}},
        {"Update": {"TableName": "orders"}},
        {"ConditionCheck": {"TableName": "stores"}},
        {"Put": {"TableName": "orders"}},
    ]
    assert enforcer().requests("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/stores"),
    ]


def test_sqs_batches_need_the_single_action_and_a_query_on_an_index_the_index():
    e = enforcer()
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/notifications"
    assert e.requests("sqs", "DeleteMessageBatch", {"QueueUrl": url}) == [("sqs:DeleteMessage", QUEUE)]
    assert e.requests("dynamodb", "Query", {"TableName": "orders", "IndexName": "OrdersView"}) == [
        ("dynamodb:Query", TABLE + "/index/OrdersView")
    ]
    assert e.requests("events", "PutEvents", {"Entries": [{"EventBusName": "channel"}, {}]}) == [
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/channel"),
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default"),
    ]


def test_the_managed_policies_sam_attaches_are_the_documents_aws_publishes():
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    published = json.loads(aws_managed_policies_data)
    for name, document in KNOWN_MANAGED_POLICIES.items():
        [statement] = published[name]["Document"]["Statement"]
        assert document["Statement"][0]["Action"] == statement["Action"], name
        assert document["Statement"][0]["Resource"] in (statement["Resource"], [statement["Resource"]]), name
