"""The orders page in the template: Cognito sign-in with two groups, a JWT authorizer on every route
that shows or changes orders, and the IAM-signed Orders view left as it was."""

from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())["Resources"]


def _routes(resources) -> dict[tuple[str, str], str | None]:
    events = resources["OrdersPageFunction"]["Properties"]["Events"]
    return {
        (e["Properties"]["Method"], e["Properties"]["Path"]): (e["Properties"].get("Auth") or {}).get("Authorizer")
        for e in events.values()
    }


def test_every_route_with_orders_needs_a_signed_in_merchant_and_only_the_shell_is_public(resources):
    routes = _routes(resources)
    assert {r for r, auth in routes.items() if auth == "NONE"} == {("GET", "/page/{proxy+}")}
    signed_in = {r for r, auth in routes.items() if auth == "OrdersPageSignIn"}
    assert signed_in == set(routes) - {("GET", "/page/{proxy+}")}
    assert all(path.startswith("/app/") for _m, path in signed_in)
    # every action is a POST
    assert {m for m, path in signed_in if path.endswith(("/retry", "/cancel", "/redrive"))} == {"POST"}


def test_the_jwt_authorizer_trusts_only_the_page_s_user_pool_and_client(resources):
    jwt = resources["OrdersApi"]["Properties"]["Auth"]["Authorizers"]["OrdersPageSignIn"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert jwt["JwtConfiguration"]["issuer"] == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${PageUserPool}"
    }
    assert jwt["JwtConfiguration"]["audience"] == [{"Ref": "PageUserPoolClient"}]


def test_merchants_are_invited_into_viewers_or_operators_and_sign_in_on_the_hosted_ui(resources):
    pool = resources["PageUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    groups = {r["Properties"]["GroupName"] for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {"viewers", "operators"}
    client = resources["PageUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False and client["SupportedIdentityProviders"] == ["COGNITO"]
    assert resources["PageUserPoolDomain"]["Properties"]["UserPoolId"] == {"Ref": "PageUserPool"}


def test_the_page_acts_only_through_the_channel_s_own_paths(resources):
    statements = resources["OrdersPageFunction"]["Properties"]["Policies"][0]["Statement"]
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert "lambda:InvokeFunction" in actions  # Retry: the order sync's retry
    assert "states:SendTaskSuccess" in actions  # Cancel on Amazon: wakes the waiting workflow
    assert not {a for a in actions if a.startswith(("dynamodb:Delete", "dynamodb:Update", "states:Start"))}
