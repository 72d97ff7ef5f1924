"""`sam local invoke` of every function in template.yaml, with each of its events in events/,
against a running `amazon-channel local up`: each invocation's result, and its effect on the stack.

The function runs in Docker (the Lambda Python 3.13 image, on the host network) with the layer
`sam build` made; env.json (from the running stack) points it at the stack's endpoint and at the
simulated Amazon and Commerce. The stack starts with scenarios/sample-events.json, so that the
orders the sample events name exist: the MFN order 113-0000000-0000001 (paid at Amazon, its
notification not delivered) and the FBA order 114-0000000-0000002 (shipped by Amazon).

The invocations follow the orders' story (STORY). Every function the story invokes after the first
is held: the stack does not run it itself, so the container's invocation is the one that does
the work; once it is checked, the function is released and the stack's own invocation (a
workflow task waiting for it, or its queue's messages) finds the work done, and the workflow goes
on to the next held step. Functions the story does not cover yet (new ones) are invoked after it,
each with its events, and must answer without an infrastructure error after reaching the stack.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sam_cli import ROOT, sam_local_invoke
from samtranslator.yaml_helper import yaml_parse

from amazon_channel_local.local_process import LocalUpProcess

pytestmark = pytest.mark.sam_local

MFN = "113-0000000-0000001"
FBA = "114-0000000-0000002"
EXECUTION = f"mfn-{MFN}"
SAMPLE_TOKEN = json.loads((ROOT / "events/await_shipments/task-input.json").read_text())["task_token"]
TRACKING = "1Z999AA10123456784"


# --------------------------------------------------------------------------- the functions and events


def template_functions() -> dict[str, str]:
    """Logical id -> events/ folder of every function in template.yaml (the folder of its CodeUri)."""
    resources = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]
    return {
        lid: Path(r["Properties"]["CodeUri"].rstrip("/")).name
        for lid, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def invocations() -> list[tuple[str, str]]:
    """(function, event file) for every function and each of its events: the story's first."""
    pairs = [
        (lid, f"{folder}/{p.name}")
        for lid, folder in template_functions().items()
        for p in sorted((ROOT / "events" / folder).glob("*.json"))
    ]
    order = {(s.function, s.event): n for n, s in enumerate(STORY)}
    return sorted(pairs, key=lambda pair: (order.get(pair, len(order)), pair))


def test_every_function_of_the_template_has_a_sample_event():
    missing = [
        lid for lid, folder in template_functions().items() if not list((ROOT / "events" / folder).glob("*.json"))
    ]
    assert not missing, f"add an event under events/<function folder>/ for {missing}"


# --------------------------------------------------------------------------- the running stack


@dataclass
class World:
    stack: LocalUpProcess
    built: Path
    env_json: Path
    notes: dict = field(default_factory=dict)

    def ctl(self, method, path, body=None):
        return self.stack.control(method, path, body)

    def order(self, oid=MFN) -> dict:
        return self.ctl("GET", f"/_local/orders/{oid}")["order"]

    def history(self, oid=MFN) -> list[str]:
        return [h["message"] for h in self.ctl("GET", f"/_local/orders/{oid}")["history"]]

    def amazon(self, method, path, body=None):
        return self.ctl(method, f"{self.stack.info['amazon']}/_sim/{path}", body)

    def commerce(self, method, path, body=None):
        return self.ctl(method, f"{self.stack.info['commerce']}/_sim/{path}", body)

    def execution(self) -> dict:
        return {e["name"]: e for e in self.ctl("GET", "/_local/executions")["executions"]}[EXECUTION]

    def states_entered(self) -> list[str]:
        events = self.ctl("GET", f"/_local/executions/{EXECUTION}/history")["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def messages(self, queue: str) -> list[dict]:
        return [json.loads(m["body"]) for m in self.ctl("GET", f"/_local/queues/{queue}/messages")["messages"]]

    def settle(self):
        self.ctl("POST", "/_local/settle")


@dataclass
class Step:
    function: str
    event: str
    check: Callable[[World, object], None]
    before: Callable[[World], None] | None = None
    after: Callable[[World], None] | None = None  # once the stack went on (released, settled)


def no_batch_failures(result):
    assert result == {"batchItemFailures": []}, result


def intake_checked(w: World, result):
    no_batch_failures(result)
    order = w.order()
    assert (order["amazon_status"], order["channel_status"], order["workflow_started"]) == (
        "Unshipped",
        "Unshipped",
        True,
    )
    assert w.execution()["status"] == "RUNNING"  # started by the container; now waiting for the held step
    # the container read the paid order (getOrder) and kept its details before starting the workflow
    assert w.amazon("GET", "calls")["getOrder"] == w.notes["amazon_calls"]["getOrder"] + 1
    assert [(i["sku"], i["qty"]) for i in order["details"]["items"]] == [("MUG-01", 2)]


def fetch_checked(w: World, result):
    assert result["amazon_order_id"] == MFN and result["import_enabled"] is True, result
    details = w.order()["details"]
    assert [(i["sku"], i["qty"]) for i in details["items"]] == [("MUG-01", 2)]
    # the intake already kept the details: the container reads nothing again (one read per order)
    assert w.amazon("GET", "calls")["getOrder"] == w.notes["amazon_calls"]["getOrder"]


def resolve_checked(w: World, result):
    assert result["customer_id"] is None, result
    assert "Guest checkout" in w.history()


def create_checked(w: World, result):
    assert (result["commerce_order_id"], result["commerce_increment_id"]) == (1, "000000001"), result
    commerce = w.commerce("GET", f"orders/{MFN}")
    assert (commerce["increment_id"], commerce["grand_total"], commerce["customer_is_guest"]) == (
        "000000001",
        "31.99",
        True,
    )
    assert w.order()["commerce"]["order_id"] == 1


def create_announced(w: World):
    # the workflow went on: AnnounceCommerceOrder put CommerceOrderCreated, the ERP queue has it
    created = [m for m in w.messages("IntegrationOrdersQueue") if m["detail-type"] == "CommerceOrderCreated"]
    assert [m["detail"]["amazon_order_id"] for m in created] == [MFN]


def await_checked(w: World, result):
    assert result == {"registered": True, "woke_at_once": False}, result
    assert w.order()["task_token"] == SAMPLE_TOKEN


def await_then_real_token(w: World):
    token = w.order()["task_token"]
    assert token and token != SAMPLE_TOKEN  # the execution's own task registered its real token


def merchant_ships(w: World):
    shipped = w.commerce("POST", "ship", {"order_id": MFN, "carrier": "UPS", "tracking_number": TRACKING})
    assert shipped["shipment_id"] == 1  # the sample event's entity_id; its event waits in the held queue


def shipment_checked(w: World, result):
    no_batch_failures(result)
    (shipment,) = w.order()["shipments"]
    assert (shipment["commerce_shipment_id"], shipment["tracking_number"]) == (1, TRACKING)
    w.settle()
    # the task token the container completed woke the workflow: it started its shipments child, which
    # confirms (held)
    assert "ShipOrder" in w.states_entered()


def confirm_checked(w: World, result):
    assert (result["all_shipped"], result["canceled"]) == (True, False), result
    amazon = w.amazon("GET", f"orders/{MFN}")
    assert amazon["status"] == "Shipped"
    assert [(c["carrier"], c["tracking_number"]) for c in amazon["shipment_confirmations"]] == [("UPS", TRACKING)]
    order = w.order()
    assert (order["channel_status"], order["task_token"]) == ("Shipped", None)


def complete_checked(w: World, result):
    assert (result["channel_status"], result["commerce_status"]) == ("Shipped", "complete"), result
    assert w.order()["commerce"]["status"] == "complete"


def workflow_succeeded(w: World):
    assert w.execution()["status"] == "SUCCEEDED"
    # the Amazon confirmation was sent once only, by the container
    assert len(w.amazon("GET", f"orders/{MFN}")["shipment_confirmations"]) == 1


def orders_list_checked(w: World, result):
    assert result["statusCode"] == 200, result
    rows = json.loads(result["body"])["orders"]
    assert [r["amazon_order_id"] for r in rows] == [MFN]


def order_shown(w: World, result):
    assert result["statusCode"] == 200, result
    body = json.loads(result["body"])
    assert MFN in json.dumps(body) and TRACKING in json.dumps(body)


def error_recorded(w: World, result):
    assert result["channel_status"] == "Error" and "insufficient stock" in result["notes"], result
    order = w.order()
    assert order["channel_status"] == "Error"
    assert order["notes"].startswith("Could not be imported: CommerceRejected")


def fba_waiting(w: World):
    waiting = [m["detail"]["amazon_order_id"] for m in w.messages("FbaOrderImportQueue")]
    assert waiting == [FBA]  # the in-process intake announced it; the held import left it queued


def fba_checked(w: World, result):
    no_batch_failures(result)
    commerce = w.commerce("GET", f"orders/{FBA}")
    assert commerce["status"] == "complete" and commerce["shipments"]
    order = w.order(FBA)
    assert order["commerce"]["increment_id"] == commerce["increment_id"]
    created = [
        m["detail"]["amazon_order_id"]
        for m in w.messages("IntegrationOrdersQueue")
        if m["detail-type"] == "CommerceOrderCreated"
    ]
    assert FBA in created


def fba_imported_once(w: World):
    assert sum(o["ext_order_id"] == FBA for o in w.commerce("GET", "orders")["orders"]) == 1


STORY = [
    Step("OrderNotificationIntakeFunction", "order_notification_intake/unshipped.json", intake_checked),
    Step("FetchOrderDetailsFunction", "fetch_order_details/task-input.json", fetch_checked),
    Step("ResolveCustomerFunction", "resolve_customer/task-input.json", resolve_checked),
    Step(
        "CreateCommerceOrderFunction", "create_commerce_order/task-input.json", create_checked, after=create_announced
    ),
    Step("AwaitShipmentsFunction", "await_shipments/task-input.json", await_checked, after=await_then_real_token),
    Step(
        "CommerceShipmentIntakeFunction",
        "commerce_shipment_intake/shipment-saved.json",
        shipment_checked,
        before=merchant_ships,
    ),
    Step("ConfirmShipmentsFunction", "confirm_shipments/task-input.json", confirm_checked),
    Step("CompleteOrderFunction", "complete_order/task-input.json", complete_checked, after=workflow_succeeded),
    Step("OrdersViewFunction", "orders_view/list-orders.json", orders_list_checked),
    Step("OrdersViewFunction", "orders_view/show-order.json", order_shown),
    Step("RecordOrderErrorFunction", "record_order_error/task-input.json", error_recorded),
    Step(
        "FbaOrderImportFunction",
        "fba_order_import/fba-order-shipped.json",
        fba_checked,
        before=fba_waiting,
        after=fba_imported_once,
    ),
]
# every story function after the first is held from the start, and released after its invocation
HELD = sorted({s.function for s in STORY[1:]} & set(template_functions()))


@pytest.fixture(scope="module")
def world(tmp_path_factory, sam_built):
    run_dir = tmp_path_factory.mktemp("local-up")
    env_json = run_dir / "env.json"
    stack = LocalUpProcess(
        run_dir, "--scenario", "scenarios/sample-events.json", "--hold", ",".join(HELD), "--env-json", str(env_json)
    )
    with stack:
        yield World(stack, sam_built, env_json)
    print(stack.output)


DOMAIN_ERRORS = {
    "ChannelError",
    "TransientError",
    "PermanentError",
    "VersionConflict",
    "AmazonThrottled",
    "AmazonUnavailable",
    "AmazonRejected",
    "CommerceUnavailable",
    "CommerceRejected",
    "CustomerAlreadyExists",
    "UnknownStore",
    "InvalidNotification",
    "OrderNotFound",
    "InvalidQuery",
}


@pytest.mark.parametrize(("function", "event"), invocations(), ids=[f"{f}:{e}" for f, e in invocations()])
def test_sam_local_invoke(world: World, function: str, event: str):
    step = next((s for s in STORY if (s.function, s.event) == (function, event)), None)
    if step is not None and step.before is not None:
        step.before(world)
    calls_before = world.ctl("GET", "/_local/requests")["count"]
    world.notes["amazon_calls"] = world.amazon("GET", "calls")
    result, logs = sam_local_invoke(world.built, function, ROOT / "events" / event, world.env_json)
    reached = world.ctl("GET", f"/_local/requests?since={calls_before}")["requests"]
    assert reached, f"{function} never reached the local stack's endpoint:\n{logs}"
    if step is None:
        # a function the story does not cover yet: it ran in the container against the stack, and any
        # failure is the channel's own verdict on the sample (a named domain error), not the plumbing
        print(f"{function} {event}: {json.dumps(result)[:300]}")
        if isinstance(result, dict) and "errorType" in result:
            assert result["errorType"] in DOMAIN_ERRORS, f"{function}: {result}\n{logs}"
        return
    assert not (isinstance(result, dict) and "errorType" in result), f"{function}: {result}\n{logs}"
    step.check(world, result)
    if function in world.stack.info.get("functions", []) and function in HELD and _last_use(step):
        world.ctl("POST", "/_local/release", {"functions": [function]})
    world.settle()
    if step.after is not None:
        step.after(world)


def _last_use(step: Step) -> bool:
    """Release a held function after the last story step that invokes it."""
    return step is [s for s in STORY if s.function == step.function][-1]
