"""Fault injection: whatever external call fails, and however it fails, a merchant's Amazon order is
still imported once, shipped once, announced to the ERP, never moved backwards, and anything set
aside says why.

Every external call the channel makes (`faults.CALLS`: each Amazon operation, each Commerce route,
each AWS call) is failed in each way (`faults.KINDS`): before it takes effect, after it took effect
with the answer lost, and as a timeout of the invocation making it (cut right after the call). Each
case plays one fresh order through the merchant's story that makes that call, with its
notifications redelivered and reordered, then lets the order sync run, and checks the invariants.
Cases are independent: each starts with Amazon's quotas full, as after a quiet spell.

The variations (notification order, redelivery, a returning buyer, the HTTP status) are drawn from
`random.Random(FAULT_SEED)`; the seed is printed with every failure, so `FAULT_SEED=<n>` replays it.
One embedded stack serves the module.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import random
from collections import Counter

import pytest

from amazon_channel_local.lambda_runtime import HandlerError
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from faults import CALLS, KINDS, Call, Injector
from stack_stories import a_quiet_spell, end_waiting_workflows, orders

SEED = int(os.environ.get("FAULT_SEED", "20261111"))
SCENARIO = {
    "name": "fault injection",
    "settings": {"customer_creation": "create", "order_number_source": "commerce", "import_fba_orders": True},
    "catalog": [],
    "steps": [],
}
INVARIANTS = (
    "one Commerce order per Amazon order",
    "one customer per buyer email",
    "one confirmation per package",
    "no lost order",
    "every ERP event delivered",
    "nothing moved backwards",
    "everything parked has a reason",
)
RANK = {"Pending": 0, "PendingAvailability": 0, "Unshipped": 1, "PartiallyShipped": 2, "Shipped": 3, "Canceled": 3}
RETURNING_BUYERS = [("Eva Lima", "eva@example.com"), ("Rui Costa", "rui@example.com")]
CASES = [(call, kind) for call in CALLS for kind in KINDS]
_numbers = itertools.count(1)

# the suite's figures, read by conftest.py's summary and bench/fault_suite.py
FIGURES: dict = {
    "seed": SEED,
    "cases": 0,
    "orders_played": 0,
    "faults_injected": Counter(),
    "calls_faulted": 0,
    "redeliveries": 0,
    "reordered": 0,
    "violations": Counter(dict.fromkeys(INVARIANTS, 0)),
}
ERP: list[dict] = []  # every event the ERP's queue received
PARKED: list[dict] = []  # every message found in a dead-letter queue


@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_fault_injection.py"), log_stream=io.StringIO()) as p:
        p.injector = Injector(p)
        p.injector.install()
        yield p
    FIGURES["faults_injected"].update(p.injector.injected)


# -- the merchant's stories ---------------------------------------------------------------------------
class Story:
    """One case: one fresh order, played through the flow that makes the faulted call."""

    def __init__(self, player: Player, rng: random.Random, new_buyer: bool = False):
        self.player, self.rng = player, rng
        n = next(_numbers)
        self.oid = f"116-{n:07d}-4000004"
        returning = rng.random() < 0.3 and not new_buyer  # a returning buyer's account is not created again
        self.buyer = rng.choice(RETURNING_BUYERS) if returning else (f"Buyer Number{n}", f"buyer{n}@example.com")
        self.held: list[str] = []
        # its own product: a per-SKU stock lease a timed-out case leaves behind holds no other case up
        self.sku = f"MUG-{n:03d}"
        player.commerce.set_product(self.sku, name="Blue mug", price="12.50", qty=1000, enabled=True)

    def place(self, fulfillment: str = "MFN", hold: bool = False) -> None:
        p = self.player
        step = parse(
            {
                "steps": [
                    {
                        "do": "amazon.place_order",
                        "order": {
                            "id": self.oid,
                            "fulfillment": fulfillment,
                            "buyer": {"name": self.buyer[0], "email": self.buyer[1]},
                            "items": [{"sku": self.sku, "qty": 2, "price": "12.50", "tax": "1.00"}],
                        },
                    }
                ]
            },
            "case",
        ).steps[0]
        p.scenario.steps.append(step)  # so that player.result() reports it
        FIGURES["orders_played"] += 1
        deliver = p.amazon.notify
        if hold:
            p.amazon.notify = self.held.append
        try:
            p.run(step)
            p.run(Step(0, "amazon.verify_payment", {"order_id": self.oid}))
        finally:
            p.amazon.notify = deliver

    def deliver_held(self) -> None:
        """The held notifications arrive in one batch, newest first half the time."""
        bodies = list(self.held)
        if self.rng.random() < 0.5:
            bodies.reverse()
            FIGURES["reordered"] += 1
        self.send(*bodies)
        self.held.clear()

    def send(self, *bodies: str) -> None:
        if bodies:
            self.player.stack.client("sqs").send_message_batch(
                QueueUrl=self.player.stack.queue_url("NotificationsQueue"),
                Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)],
            )

    def redeliver(self) -> None:
        """Amazon delivers this order's notifications again (same NotificationIds), in a shuffled order."""
        bodies = [
            b
            for b in self.player.amazon.notifications_sent
            if json.loads(b)["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == self.oid
        ]
        self.rng.shuffle(bodies)
        FIGURES["redeliveries"] += len(bodies)
        self.send(*bodies)

    def settle(self) -> None:
        self.player.stack.settle()

    # the flows, each arming the fault (`arm`) just before the step that makes the call
    def mfn_import(self, arm) -> None:
        arm()
        self.place(hold=True)
        self.deliver_held()
        self.settle()

    def imported(self) -> None:
        self.mfn_import(lambda: None)

    def mfn_ship(self, arm) -> None:
        self.imported()
        arm()
        self.player.run(
            Step(0, "commerce.ship", {"order_id": self.oid, "carrier": "UPS", "tracking_number": f"1Z{self.oid[4:11]}"})
        )
        self.settle()

    def fba_import(self, arm) -> None:
        arm()
        self.place("AFN")
        self.player.run(Step(0, "amazon.ship", {"order_id": self.oid}))
        self.settle()

    def amazon_cancel(self, arm) -> None:
        self.imported()
        arm()
        self.player.run(Step(0, "amazon.cancel", {"order_id": self.oid}))
        self.settle()

    def merchant_cancel(self, arm) -> None:
        self.imported()
        arm()
        self.player.run(Step(0, "commerce.cancel", {"order_id": self.oid, "reason": "NoInventory"}))
        self.settle()

    def sync(self, arm) -> None:
        """Amazon's notifications are lost: the order sync finds the order."""
        self.player.amazon.set_lose_notifications(True)
        try:
            self.place()
        finally:
            self.player.amazon.set_lose_notifications(False)
        arm()
        with contextlib.suppress(HandlerError):  # a timed-out run: the next scheduled one goes on
            self.player.poll()
        self.settle()

    def bad_notification(self, arm) -> None:
        """A copy of the order's notification whose timestamp is no date is parked (SendMessage)."""
        self.imported()
        body = json.loads(self.player.amazon.notifications_sent[-1])
        body["NotificationMetadata"]["NotificationId"] = f"bad-{self.oid}"
        body["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = "soon"
        arm()
        self.send(json.dumps(body))
        self.settle()


def _pre(player: Player, call_name: str, kind: str, status: int):
    call = next(c for c in CALLS if c.name == call_name)
    return lambda: player.injector.arm(call, kind, status)


def _slow(reason: str):
    return pytest.mark.xfail(run=False, strict=True, reason=reason)


def play(player: Player, story: Story, call: Call, kind: str, status: int) -> None:
    arm = lambda: player.injector.arm(call, kind, status)  # noqa: E731
    match call.flow:
        case "fba_ship_answer_lost":  # Commerce shipped the FBA order but the answer was lost: the client looks
            first = _pre(player, "commerce ship", "after", 503)
            story.fba_import(lambda: (first(), arm()))
        case "invoice_refused":  # Commerce refuses the invoice: the half-made order is canceled
            first = _pre(player, "commerce invoice", "before", 400)
            story.mfn_import(lambda: (first(), arm()))
        case flow:
            getattr(story, flow)(arm)


# -- the invariants -----------------------------------------------------------------------------------
def drain(player: Player, logical_id: str) -> list[dict]:
    sqs, url, out = player.stack.client("sqs"), player.stack.queue_url(logical_id), []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages"
    ):
        for m in msgs:
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def violations(player: Player, oid: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    stack, commerce, amazon = player.stack, player.commerce, player.amazon
    ERP.extend(json.loads(m["Body"]) for m in drain(player, "IntegrationOrdersQueue"))
    for lid, rtype in stack.resource_types.items():
        if rtype == "AWS::SQS::Queue" and "DeadLetter" in lid:
            PARKED.extend({"queue": lid, **m} for m in drain(player, lid))

    live = [o for o in commerce.orders() if o.get("ext_order_id") == oid and o["state"] != "canceled"]
    if len(live) > 1:
        found.append((INVARIANTS[0], f"{len(live)} Commerce orders"))
    emails = Counter(c["email"].casefold() for c in commerce.customers())
    if twice := [e for e, n in emails.items() if n > 1]:
        found.append((INVARIANTS[1], f"customers made twice: {twice}"))

    confirmed = [c["tracking_number"] for c in amazon.shipment_confirmations(oid)]
    if len(confirmed) != len(set(confirmed)):
        found.append((INVARIANTS[2], f"a package confirmed twice: {confirmed}"))
    fulfillment = next(o.get("fulfillment", "MFN") for o in player.scenario.orders if o["id"] == oid)
    commerce_order = commerce.order_by_ext_id(oid)
    if fulfillment == "MFN" and commerce_order:
        tracks = sorted(s["tracking_number"] for s in commerce_order["shipments"])
        if tracks != sorted(set(confirmed)):
            found.append((INVARIANTS[2], f"Commerce shipped {tracks}, Amazon has {confirmed}"))

    channel = orders(player).get(oid)
    parked = [m for m in PARKED if oid in m["Body"]]
    if not live and amazon.order_status(oid) != "Canceled":
        noted = channel is not None and channel.channel_status.value == "Error" and channel.notes
        if not noted and not parked:
            found.append(
                (
                    INVARIANTS[3],
                    f"not in Commerce, not Error with a note, not parked "
                    f"(channel: {channel and channel.channel_status.value})",
                )
            )

    events = [
        e for e in ERP if e["detail"].get("amazon_order_id") == oid and e["detail-type"] == "CommerceOrderCreated"
    ]
    if live and not events:
        found.append((INVARIANTS[4], "CommerceOrderCreated never reached the integration queue"))
    if len({e["detail"]["event_id"] for e in events}) > 1:
        found.append((INVARIANTS[4], "repeats with different event_ids"))

    statuses = [h.data["amazon_status"] for h in orders(player).history(oid) if h.kind == "status"]
    for before, after in itertools.pairwise(statuses):
        if RANK[after] < RANK[before] or (RANK[before] == 3 and after != before):
            found.append((INVARIANTS[5], f"{before} -> {after} in {statuses}"))

    found.extend(
        (INVARIANTS[6], f"{m['queue']}: {m['Body'][:120]}")
        for m in PARKED
        if "reason" not in (m.get("MessageAttributes") or {})
    )
    PARKED[:] = [m for m in PARKED if "reason" in (m.get("MessageAttributes") or {})]
    return found


# -- the suite ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "kind"), CASES, ids=[f"{c.name}-{k}" for c, k in CASES])
def test_an_order_survives_a_fault(player, call, kind):
    rng = random.Random(f"{SEED}:{call.name}:{kind}")
    a_quiet_spell(player)  # Given a quiet spell since the last case
    story = Story(
        player, rng, new_buyer=call.name == "commerce customers create"
    )  # Given a fresh order, and one fault armed on one external call
    status = rng.choice([500, 503])
    try:
        play(player, story, call, kind, status)  # When the merchant's story that makes the call is played
        hits = player.injector.disarm()
        if rng.random() < 0.5:  # and Amazon delivers the order's notifications again
            story.redeliver()
            story.settle()
        player.poll()  # and the order sync runs
        story.settle()
    finally:
        player.injector.disarm()
        player.stack.aws_faults.clear()
    end_waiting_workflows(player)
    FIGURES["cases"] += 1
    FIGURES["calls_faulted"] += 1 if hits else 0
    found = violations(player, story.oid)  # Then every invariant holds
    FIGURES["violations"].update(name for name, _ in found)
    replay = f"(FAULT_SEED={SEED}, order {story.oid}, HTTP {status})"
    assert hits, f"the fault on {call.name} ({kind}) was never injected: the story does not make that call {replay}"
    assert not found, f"{call.name} ({kind}) {replay}: " + "; ".join(f"{n}: {d}" for n, d in found)
