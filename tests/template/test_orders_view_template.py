"""The Orders view in the template: an HTTP API behind IAM, a read-only function, the indexes it queries."""

import json
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from amazon_channel.adapters.dynamodb_order_queries import ROW_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())["Resources"]


def test_the_orders_api_is_an_http_api_where_every_route_needs_iam(resources):
    api = resources["OrdersApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    auth = api["Properties"]["Auth"]
    assert {k: auth[k] for k in ("EnableIamAuthorizer", "DefaultAuthorizer")} == {
        "EnableIamAuthorizer": True,
        "DefaultAuthorizer": "AWS_IAM",
    }
    assert set(auth) - {"EnableIamAuthorizer", "DefaultAuthorizer"} <= {"Authorizers"}  # the orders page's
    events = resources["OrdersViewFunction"]["Properties"]["Events"]
    for event in events.values():
        assert event["Type"] == "HttpApi" and event["Properties"]["ApiId"] == {"Ref": "OrdersApi"}
        assert "Auth" not in event["Properties"]  # no route opts out of the default IAM authorizer
    assert {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()} == {
        ("GET", "/orders"),
        ("GET", "/orders/{amazonOrderId}"),
    }


def test_access_logs_keep_a_retention_and_never_the_query_string(resources):
    settings = resources["OrdersApi"]["Properties"]["AccessLogSettings"]
    log_group = resources[settings["DestinationArn"]["Fn::GetAtt"][0]]
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    # filters may hold a buyer's name: no query string, path or headers in the access log
    for leak in ("queryString", "$context.path", "$request"):
        assert leak not in settings["Format"]


def test_the_function_only_reads_the_orders_table(resources):
    [policy] = resources["OrdersViewFunction"]["Properties"]["Policies"]
    granted = {
        (a, json.dumps(s["Resource"], sort_keys=True))
        for s in policy["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {a for a, _ in granted} == {"dynamodb:GetItem", "dynamodb:Query"}  # reads only
    assert all("OrdersTable" in r for _, r in granted)


@pytest.mark.parametrize("index", ["OrdersView", "OrdersByStatus"])
def test_each_index_projects_only_the_columns_a_row_and_its_filters_need(resources, index):
    # an index is written again only when a projected attribute changes: not the whole order
    indexes = {i["IndexName"]: i for i in resources["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]}
    projection = indexes[index]["Projection"]
    assert projection["ProjectionType"] == "INCLUDE"
    assert set(ROW_ATTRIBUTES) | {"buyer_name_lc", "grand_total"} <= set(projection["NonKeyAttributes"])
    assert "doc" not in projection["NonKeyAttributes"]
