"""Least privilege, both ways, on the embedded stack (IAM enforced: `amazon_channel_local/iam.py`).

Every scenario is played, then the stories the scenarios do not tell (bad input parked, the Orders
view, a failed import retried, the sync finding an Amazon cancellation). Each AWS call a handler
made (and the Lambda poller's and the state machine's) was checked against its own role; here:
- no call lacked a grant, and
- every grant of every role (each action on each resource of each statement) was used by a call,
  except the ones named in NOT_MADE_BY_A_HANDLER, each with its reason.

The same plays record the Commerce traffic of every shipped scenario, checked here against each
version of Adobe's schema: playing every scenario once for both checks, instead of once each,
takes about 200 s off the suite.

`pytest tests/integration/test_least_privilege.py -s` prints, per function, what it called.
`python -m amazon_channel_local.iam_grants --before REV` prints the grants before and after.
"""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from amazon_channel_local.aws_faults import failed_entry_answer, put_events_of
from amazon_channel_local.http_api import HttpApiAdapter
from amazon_channel_local.iam import Grant, Statement
from amazon_channel_local.player import DEFAULT_SELLER, Player
from amazon_channel_local.scenario import load, parse
from amazon_channel_local.simulators import commerce_schema

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(ROOT.glob("scenarios/*.json")) + sorted(ROOT.glob("tests/scenarios/*.json"))

#: grants no handler call can use (action prefix -> why), named deliberately
NOT_MADE_BY_A_HANDLER = {
    "logs:": "the Lambda service writes a function's logs from its output, and Step Functions delivers "
    "the workflow's logs (vended logs): no handler calls CloudWatch Logs",
    "xray:": "the X-Ray SDK sends segments to the X-Ray daemon over UDP, not through boto3",
}

STORY = {
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 100}],
    "steps": [],
}


def _order(oid: str, fulfillment: str = "MFN") -> dict:
    return {
        "do": "amazon.place_order",
        "order": {
            "id": oid,
            "fulfillment": fulfillment,
            "buyer": {"name": "Ana Souza", "email": "ana@example.com"},
            "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
        },
    }


class Ledger:
    """Calls and used grants of every stack played, with each stack's names made logical."""

    def __init__(self) -> None:
        self.commerce_traffic: list[commerce_schema.Exchange] = []  # the scenarios' Commerce exchanges
        self.calls: set[tuple[str, str, str, bool]] = set()
        self.used: dict[str, set[Grant]] = {}
        self.grants: dict[str, set[Grant]] = {}

    def add(self, stack) -> None:
        names = _physical_names(stack)

        def logical(text: str) -> str:
            for physical, lid in names:
                text = text.replace(physical, "${" + lid + "}")
            return text

        def grant(g: Grant) -> Grant:
            return Grant(g.policy, g.action, logical(g.resource))

        iam = stack.iam
        for c in iam.calls:
            self.calls.add((c.principal, c.action, logical(c.resource), c.allowed))
        for principal, role in iam.roles.items():
            self.grants.setdefault(principal, set()).update(grant(g) for g in role.grants())
            self.used.setdefault(principal, set()).update(grant(g) for g in iam.used[principal])


def _physical_names(stack) -> list[tuple[str, str]]:
    out = []
    for lid, physical in stack.resources.items():
        if not physical or lid.endswith("Role"):
            continue
        if stack.resource_types.get(lid) == "AWS::SQS::Queue":
            out.append((physical.rstrip("/").rsplit("/", 1)[-1], lid))  # the URL's last part is the queue's name
        else:
            out.append((physical, lid))
    return sorted(out, key=lambda p: -len(p[0]))


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    ledger = Ledger()
    with commerce_schema.recorded() as traffic:
        for path in SCENARIOS:
            with Player(load(path), log_stream=io.StringIO()) as player:
                player.play()
                ledger.add(player.stack)
    ledger.commerce_traffic = traffic
    with Player(parse(STORY, "least-privilege stories"), log_stream=io.StringIO(), time_scale=0.01) as player:
        _stories(player)
        ledger.add(player.stack)
    return ledger


STORY_ORDERS = (
    "113-0000000-0000901",
    "114-0000000-0000902",
    "113-0000000-0000903",
    "113-0000000-0000904",
    "113-0000000-0000905",
    "113-0000000-0000906",
    "113-0000000-0000907",
    "113-0000000-0000908",
    "113-0000000-0000909",
)


def _steps(*steps: dict):
    placed = {s["order"]["id"] for s in steps if s["do"] == "amazon.place_order"}
    return parse({**STORY, "steps": list(steps)}, "story", known_orders=set(STORY_ORDERS) - placed).steps


def _run(player: Player, *steps: dict) -> None:
    for step in _steps(*steps):
        player.run(step)
    player.stack.settle()


def _refused_once(player: Player, function: str, action: str, resource: str, step: dict) -> None:
    """AWS refuses `action` to `function` until one of its runs failed; then the retry goes through."""
    stack = player.stack
    refusal = Statement.parse("story", {"Effect": "Deny", "Action": action, "Resource": resource})
    role = stack.iam.roles[function]
    role.statements.insert(0, refusal)

    def refused() -> bool:
        return any(not c.allowed and (c.principal, c.action) == (function, action) for c in stack.iam.calls)

    player.run(*_steps(step))
    deadline = time.monotonic() + 60
    while not refused():
        assert time.monotonic() < deadline, f"{function} never called {action}"
        stack.step()
    role.statements.remove(refusal)
    stack.settle()
    # (the refusal was the story's own, not a missing grant)
    stack.iam.calls = [c for c in stack.iam.calls if c.allowed or (c.principal, c.action) != (function, action)]


def _stories(player: Player) -> None:
    stack = player.stack
    sqs = stack.client("sqs")
    # Amazon cancels an order whose notification is lost: the sync finds it and wakes the workflow
    _run(player, _order("113-0000000-0000903"), {"do": "amazon.verify_payment", "order_id": "113-0000000-0000903"})
    _run(
        player,
        {"do": "amazon.lose_notifications", "enabled": True},
        {"do": "amazon.cancel", "order_id": "113-0000000-0000903"},
        {"do": "poll"},
        {"do": "amazon.lose_notifications", "enabled": False},
    )

    # A backlog used up both Amazon quotas: the paid order's notification is deferred (sent again
    # with a delay) until its booked getOrder token is due, and the sync, cut short by the
    # searchOrders quota, continues by a delayed message once it has a page
    _quotas_used_up(stack, getOrder="0.5", searchOrders="0.97")
    _run(player, _order("113-0000000-0000907"), {"do": "amazon.verify_payment", "order_id": "113-0000000-0000907"})
    _run(player, {"do": "poll"})

    # Amazon answers the intake's read with a 503: the workflow's FetchOrderDetails reads the order itself
    player.amazon.fail_next("getOrder", 503)
    _run(player, _order("113-0000000-0000909"), {"do": "amazon.verify_payment", "order_id": "113-0000000-0000909"})

    # Bad input of every intake is parked in its own dead-letter queue; a bad sync request too
    for queue in ("NotificationsQueue", "CommerceShipmentsQueue", "CommerceCancellationsQueue", "FbaOrderImportQueue"):
        sqs.send_message(QueueUrl=stack.queue_url(queue), MessageBody="not json")
    stack.settle()
    stack.invoke("OrderSyncFunction", {"trigger": "now and then"})

    # AWS refuses the paid order's first save once: the notification's in-progress record is
    # dropped (Powertools idempotency) and the redelivered notification records it and starts the workflow
    _run(player, _order("113-0000000-0000901"))
    _refused_once(
        player,
        "OrderNotificationIntakeFunction",
        "dynamodb:PutItem",
        stack.iam._arn("dynamodb", f"table/{stack.resources['OrdersTable']}"),
        {"do": "amazon.verify_payment", "order_id": "113-0000000-0000901"},
    )

    # AWS refuses an FBA order's first save: the import's in-progress record is dropped, the retry imports it
    orders_table = stack.iam._arn("dynamodb", f"table/{stack.resources['OrdersTable']}")
    _run(
        player, _order("114-0000000-0000902", "AFN"), {"do": "amazon.verify_payment", "order_id": "114-0000000-0000902"}
    )
    _refused_once(
        player,
        "FbaOrderImportFunction",
        "dynamodb:PutItem",
        orders_table,
        {"do": "amazon.ship", "order_id": "114-0000000-0000902"},
    )

    # The merchant cancels in Commerce and Amazon processes the cancellation feed later: it is followed
    _run(player, _order("113-0000000-0000904"), {"do": "amazon.verify_payment", "order_id": "113-0000000-0000904"})
    player.amazon.feeds.hold(True)
    player.run(
        *_steps({"do": "commerce.cancel", "order_id": "113-0000000-0000904", "reason": "Customer asked us to cancel"})
    )
    deadline = time.monotonic() + 240
    while sum(1 for i in stack.invocations if i["logical_id"] == "RequestAmazonCancellationFunction") < 2:
        assert time.monotonic() < deadline, "the cancellation feed was not checked again"
        stack.pump()
        time.sleep(0.01)  # the workflow's Wait state runs on its own thread
    player.amazon.feeds.process()
    stack.settle()

    # EventBridge refuses every announcement the import child makes: the workflow announces the order itself
    stack.aws_faults.fail_next(
        "eventbridge", "PutEvents", answer=failed_entry_answer(), count=4, match=put_events_of("CommerceOrderCreated")
    )
    _run(player, _order("113-0000000-0000908"), {"do": "amazon.verify_payment", "order_id": "113-0000000-0000908"})
    stack.aws_faults.clear()

    # The merchant opens the Orders view: a page, a page by status, one order with its history
    api = HttpApiAdapter(stack, "OrdersViewFunction")
    for target in (
        f"/orders?seller_id={DEFAULT_SELLER}",
        f"/orders?seller_id={DEFAULT_SELLER}&status=Unshipped",
        "/orders/113-0000000-0000901",
    ):
        status, _headers, body = api.request("GET", target)
        assert status == 200, (target, body)

    _orders_page_story(player)

    # A month later the daily maintenance removes the canceled order's buyer data and checks the LWA secret
    with stack.runtime.container("DailyMaintenanceFunction"):  # the function's own clock module
        from amazon_channel.domain import clock
    real_now = clock.now
    clock.now = lambda: real_now() + timedelta(days=31)
    try:
        report = stack.invoke("DailyMaintenanceFunction", {"trigger": "schedule"})
    finally:
        clock.now = real_now
    assert report["retention"]["removed"] >= 1, report


def _quotas_used_up(stack, **tokens: str) -> None:
    """The shared rate budget of each operation left with so many tokens, just now."""
    for operation, left in tokens.items():
        stack.client("dynamodb").put_item(
            TableName=stack.resources["OrdersTable"],
            Item={
                "pk": {"S": f"RATE#{DEFAULT_SELLER}#{operation}"},
                "sk": {"S": "BUDGET"},
                "tokens": {"N": left},
                "refilled_at": {"N": str(time.time())},
                "ver": {"N": "99"},
            },
        )


def _orders_page_story(player: Player) -> None:
    """An operator on the orders page: every page, Retry, Cancel on Amazon, a redrive of each DLQ."""
    import re
    import uuid
    from urllib.parse import urlencode

    from amazon_channel_local.orders_page_local import OrdersPageApi, create_demo_users, sign_in

    stack = player.stack
    blocked = {**_order("113-0000000-0000905"), "order": {**_order("113-0000000-0000905")["order"]}}
    blocked["order"]["items"] = [{"sku": "RUG-03", "qty": 1, "price": "80.00"}]  # not in the catalog: Error
    _run(player, blocked, {"do": "amazon.verify_payment", "order_id": "113-0000000-0000905"})
    _run(player, _order("113-0000000-0000906"), {"do": "amazon.verify_payment", "order_id": "113-0000000-0000906"})
    create_demo_users(stack)
    api = OrdersPageApi(stack)
    signed_in = {"Authorization": "Bearer " + sign_in(stack, "demo-operator")}

    def get(target: str) -> str:
        status, _headers, body = api.request("GET", target, signed_in)
        assert status == 200, (target, body[:300])
        return body.decode()

    def post(target: str, page: str, **form: str) -> None:
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        body = urlencode({"csrf": csrf, "action_id": uuid.uuid4().hex, **form}).encode()
        status, _headers, answer = api.request("POST", target, signed_in, body)
        assert status == 200, (target, answer[:300])

    get("/app/orders")
    get("/app/orders?status=Unshipped")
    post("/app/orders/113-0000000-0000905/retry", get("/app/orders/113-0000000-0000905"))
    page = get("/app/orders/113-0000000-0000906")
    post("/app/orders/113-0000000-0000906/cancel", page, reason="NoInventory")
    stack.settle()
    health = get("/app/health")
    for queue in ("Notifications", "CommerceShipments", "CommerceCancellations", "FbaOrderImport"):
        post("/app/health/redrive", health, queue=queue)
    stack.settle()


def _shown(items) -> str:
    return "\n".join(f"  {item}" for item in sorted(items)) or "  (none)"


def test_every_call_of_every_scenario_is_granted_by_the_functions_own_role(ledger):
    missing = sorted((p, a, r) for p, a, r, allowed in ledger.calls if not allowed)
    assert not missing, "calls the role does not allow (they fail on AWS):\n" + _shown(missing)


def test_every_grant_is_used_by_some_call(ledger):
    unused = sorted(
        (principal, g.policy, g.action, g.resource)
        for principal, grants in ledger.grants.items()
        for g in grants - ledger.used.get(principal, set())
        if not g.action.startswith(tuple(NOT_MADE_BY_A_HANDLER))
    )
    assert not unused, "grants no call used (remove them, or name why):\n" + _shown(unused)


def test_the_record_per_function(ledger, capsys):
    """The record the template's statements follow (shown with -s)."""
    by_principal: dict[str, set] = {}
    for p, a, r, _ in ledger.calls:
        by_principal.setdefault(p, set()).add(f"{a} {r}")
    with capsys.disabled():
        print("\nAWS calls per function (all scenarios and stories):")
        for p in sorted(by_principal):
            print(p)
            print(_shown(by_principal[p]))
    # every function of the template made calls: none was left out of the record
    assert set(by_principal) == set(ledger.grants)


def test_an_sqs_trigger_receives_only_from_its_own_queue():
    with Player(parse(STORY, "trigger queues"), log_stream=io.StringIO()) as player:
        stack = player.stack
        queues = {
            lid: stack.iam._arn("sqs", url.rsplit("/", 1)[-1])
            for lid, url in stack.resources.items()
            if stack.resource_types.get(lid) == "AWS::SQS::Queue"
        }
        triggers = {p.function_logical_id: p.queue_arn for p in stack._pollers}
        assert len(triggers) == 5  # the four intakes and the sync's continuations
        for function, own in triggers.items():
            role = stack.iam.roles[function]
            for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                assert role.evaluate(action, own).allowed, (function, action)
                for other in set(queues.values()) - {own}:
                    assert not role.evaluate(action, other).allowed, (function, action, other)


def test_a_call_the_role_does_not_allow_fails_as_on_aws():
    """Given the Orders view's read-only role, When it deletes an order or parks a message, Then AWS's AccessDenied."""
    from botocore.exceptions import ClientError

    from amazon_channel_local.iam import acting_as

    with Player(parse(STORY, "denied"), log_stream=io.StringIO()) as player:
        stack = player.stack
        table = stack.resources["OrdersTable"]
        with acting_as("OrdersViewFunction"), pytest.raises(ClientError) as denied:
            stack.client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": "ORDER#1"}, "sk": {"S": "STATE"}})
        error = denied.value.response["Error"]
        assert error["Code"] == "AccessDeniedException"
        role = stack.iam.roles["OrdersViewFunction"]
        assert error["Message"] == (
            f"User: arn:aws:sts::123456789012:assumed-role/{role.role_name}/{stack.resources['OrdersViewFunction']} "
            f"is not authorized to perform: dynamodb:DeleteItem on resource: "
            f"arn:aws:dynamodb:us-east-1:123456789012:table/{table} "
            "because no identity-based policy allows the dynamodb:DeleteItem action"
        )
        queue = stack.queue_url("NotificationsDeadLetterQueue")
        with acting_as("OrdersViewFunction"), pytest.raises(ClientError) as denied:
            stack.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"parked": True}))
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert (
            "is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:"
            in denied.value.response["Error"]["Message"]
        )
        # and nothing happened
        assert sqs_depth(stack, queue) == 0


def sqs_depth(stack, url: str) -> int:
    attrs = stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def test_every_commerce_request_and_answer_of_the_shipped_scenarios_follows_adobes_schema(ledger):
    # Given every shipped scenario, played as `amazon-channel simulate` plays it (store on 2.4.9)
    # When its Commerce traffic is checked against each schema version
    for version in commerce_schema.VERSIONS:
        figures = commerce_schema.revalidate(ledger.commerce_traffic, version)
        per_exchange_us = (figures.request_seconds + figures.response_seconds) / max(figures.requests, 1) * 1e6
        print(
            f"\nCommerce schema {version}: {figures.requests} requests and {figures.responses} responses "
            f"validated over {len(SCENARIOS)} scenarios, {len(figures.refused)} refused, "
            f"{len(figures.violations)} violations, {per_exchange_us:.0f} µs per request+response"
        )
        # Then every one of them is valid, and there were some
        assert figures.requests > 0 and figures.responses > 0
        assert figures.refused == [] and figures.violations == []
