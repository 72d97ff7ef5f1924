"""A merchant connects a store to a freshly deployed stack with one command, and the doctor says
what is missing or broken, one line each with the fix.

The stage: the embedded stack as `sam deploy` leaves it (empty secrets, no store), with the
simulated Amazon (LWA, SP-API Notifications) and Commerce the stack's functions reach.
"""

from __future__ import annotations

import io
import json
from contextlib import contextmanager

import pytest

from amazon_channel_local.debugging.handle import from_local_stack
from amazon_channel_local.onboarding import commands
from amazon_channel_local.onboarding.stack_config import Targets
from amazon_channel_local.player import simulator_environment
from amazon_channel_local.simulators.amazon import SimulatedAmazon
from amazon_channel_local.simulators.commerce import SimulatedCommerce
from amazon_channel_local.stack import LocalStack

SELLER = "A2MERCHANT00001"


@contextmanager
def freshly_deployed_stack():
    """Yields (stack, amazon, commerce, run): `run(*argv)` runs amazon-channel connect/doctor on it."""
    amazon, commerce = SimulatedAmazon(seller_id=SELLER), SimulatedCommerce()
    with (
        amazon,
        commerce,
        LocalStack(environment_overrides=simulator_environment(amazon, commerce), log_stream=io.StringIO()) as stack,
    ):
        handle = from_local_stack(stack)

        def run(capsys, *argv: str) -> tuple[int, str, str]:
            capsys.readouterr()
            targets = Targets(amazon.base_url, amazon.lwa_token_url, commerce.base_url)
            code = commands.main(list(argv), handle=handle, targets=targets, stdin=io.StringIO())
            out, err = capsys.readouterr()
            return code, out, err

        yield stack, amazon, commerce, run


def connect_args(amazon, commerce) -> list[str]:
    c = commerce.credentials
    return [
        "connect",
        "--seller-id",
        SELLER,
        "--refresh-token",
        amazon.refresh_token,
        "--marketplace",
        "ATVPDKIKX0DER",
        "--client-id",
        amazon.client_id,
        "--client-secret",
        amazon.client_secret,
        "--commerce-consumer-key",
        c["consumer_key"],
        "--commerce-consumer-secret",
        c["consumer_secret"],
        "--commerce-access-token",
        c["access_token"],
        "--commerce-access-token-secret",
        c["access_token_secret"],
        "--customer-creation",
        "create",
    ]


def doctor(run, capsys) -> tuple[int, dict]:
    code, out, err = run(capsys, "doctor", "--json")
    assert out.strip(), err
    return code, json.loads(out)


def failing(report: dict) -> dict[str, dict]:
    return {f["check"]: f for f in report["findings"] if not f["ok"]}


def test_connect_then_doctor_is_all_green(capsys):
    with freshly_deployed_stack() as (stack, amazon, commerce, run):
        # Given a stack just deployed: the doctor sees nothing connected
        code, before = doctor(run, capsys)
        assert code == 4 and {"SP-API secret", "Commerce secret", "stores"} <= set(failing(before))
        # When the merchant connects the store
        code, out, err = run(capsys, *connect_args(amazon, commerce))
        # Then everything is stored, Amazon sends the seller's order changes to the stack's queue
        assert code == 0, out + err
        secret = json.loads(
            stack.client("secretsmanager").get_secret_value(SecretId=stack.resources["SpApiCredentialsSecret"])[
                "SecretString"
            ]
        )
        assert secret["refresh_tokens"] == {SELLER: amazon.refresh_token}
        item = stack.client("dynamodb").get_item(TableName=stack.resources["StoresTable"], Key={"id": {"S": SELLER}})
        store = json.loads(item["Item"]["value"]["S"])
        assert store["marketplace_ids"] == ["ATVPDKIKX0DER"] and store["settings"] == {"customer_creation": "create"}
        queue_arn = stack.outputs["NotificationsQueueArn"]
        [destination] = amazon.notifications.destinations()
        assert destination["resource"] == {"sqs": {"arn": queue_arn}}
        [subscription] = amazon.notifications.subscriptions(SELLER)
        assert subscription["destinationId"] == destination["destinationId"]
        assert subscription["payloadVersion"] == "1.0" and subscription["notification_type"] == "ORDER_CHANGE"
        # And the doctor reports all green, one line per check
        code, after = doctor(run, capsys)
        assert code == 0, failing(after)
        checks = [f["check"] for f in after["findings"]]
        assert {
            "SP-API secret",
            "Commerce secret",
            f"store {SELLER}",
            f"LWA seller {SELLER}",
            "LWA grantless token",
            "notification destination",
            f"ORDER_CHANGE subscription {SELLER}",
            "notifications queue policy",
            "Commerce events",
            "Commerce GET /V1/customers/search",
            "Commerce GET /V1/orders",
        } <= set(checks)
        assert any(c.startswith("dead-letter queue ") for c in checks)
        code, text, _ = run(capsys, "doctor")
        assert code == 0 and text.strip().endswith("all green")


def test_connecting_twice_changes_nothing(capsys):
    with freshly_deployed_stack() as (stack, amazon, commerce, run):
        # Given a connected store
        assert run(capsys, *connect_args(amazon, commerce))[0] == 0
        sm = stack.client("secretsmanager")
        versions = len(sm.list_secret_version_ids(SecretId=stack.resources["SpApiCredentialsSecret"])["Versions"])
        # When the merchant runs the same command again
        code, out, _ = run(capsys, *connect_args(amazon, commerce), "--json")
        # Then the destination and the subscription are found, not made twice, and nothing is rewritten
        assert code == 0
        steps = {s["step"]: s["outcome"] for s in json.loads(out)["stores"][0]["steps"]}
        assert steps["SP-API secret"] == steps["Commerce secret"] == steps["store settings"] == "unchanged"
        assert steps["notification destination"].startswith("found")
        assert steps["ORDER_CHANGE subscription"].startswith("found")
        assert len(amazon.notifications.destinations()) == 1 and len(amazon.notifications.subscriptions()) == 1
        assert (
            len(sm.list_secret_version_ids(SecretId=stack.resources["SpApiCredentialsSecret"])["Versions"]) == versions
        )


def test_a_refused_refresh_token_stores_nothing(capsys):
    with freshly_deployed_stack() as (stack, amazon, commerce, run):
        # When the merchant pastes a wrong refresh token
        args = connect_args(amazon, commerce)
        args[args.index("--refresh-token") + 1] = "Atzr|not-the-sellers-token"
        code, _, err = run(capsys, *args)
        # Then connect says so in one line, and the stack is as deployed
        assert code == 2 and "invalid_grant" in err and "nothing was stored" in err
        assert len(err.strip().splitlines()) == 1
        items = stack.client("dynamodb").scan(TableName=stack.resources["StoresTable"])["Items"]
        assert items == [] and amazon.notifications.destinations() == []


@pytest.mark.parametrize("broken", ["missing secret key", "no subscription", "Commerce 401"])
def test_the_doctor_names_each_broken_thing_with_its_fix(capsys, broken):
    with freshly_deployed_stack() as (stack, amazon, commerce, run):
        # Given a connected store
        assert run(capsys, *connect_args(amazon, commerce))[0] == 0
        sm = stack.client("secretsmanager")
        # When one thing breaks
        if broken == "missing secret key":
            secret_id = stack.resources["SpApiCredentialsSecret"]
            value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
            del value["client_secret"]
            sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
            expected = {"SP-API secret": ("lacks client_secret", "--client-secret")}
        elif broken == "no subscription":
            [sub] = amazon.notifications.subscriptions(SELLER)
            with amazon._lock:
                del amazon.notifications._subscriptions[sub["subscriptionId"]]
            expected = {f"ORDER_CHANGE subscription {SELLER}": ("none", f"--seller-id {SELLER}")}
        else:
            secret_id = stack.resources["CommerceTokenSecret"]
            value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
            sm.put_secret_value(
                SecretId=secret_id, SecretString=json.dumps({**value, "access_token_secret": "revoked"})
            )
            expected = {
                "Commerce GET /V1/customers/search": ("401", "Integration Details"),
                "Commerce GET /V1/orders": ("401", "Integration Details"),
            }
        # Then the doctor exits 4 and names exactly that, with its fix
        code, report = doctor(run, capsys)
        assert code == 4
        found = failing(report)
        for check, (detail, fix) in expected.items():
            assert detail in found[check]["detail"] and fix in found[check]["fix"], found[check]
        if broken != "Commerce 401":
            assert set(found) == set(expected), found
        else:
            assert all(c.startswith("Commerce GET") for c in found)
        # And the plain report puts each on one line with its fix
        _, text, _ = run(capsys, "doctor")
        for check in expected:
            [line] = [ln for ln in text.splitlines() if ln.startswith(f"FAIL {check}:")]
            assert "-> fix: " in line


def test_bad_input_exits_2_with_one_line(capsys, tmp_path):
    with freshly_deployed_stack() as (_stack, _amazon, _commerce, run):
        # No seller, and no terminal to ask on
        code, _, err = run(capsys, "connect", "--marketplace", "ATVPDKIKX0DER")
        assert code == 2 and "--seller-id" in err
        # A config file with a store that names no seller
        config = tmp_path / "stores.json"
        config.write_text(json.dumps({"stores": [{"marketplace_ids": ["ATVPDKIKX0DER"]}]}))
        code, _, err = run(capsys, "connect", "--config", str(config))
        assert code == 2 and "store 1 needs seller_id" in err and len(err.strip().splitlines()) == 1
