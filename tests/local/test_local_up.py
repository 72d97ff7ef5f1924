"""`amazon-channel local up`: the long-running stack on loopback, its control API, the simulators'
control routes, `simulate --endpoint`, `local env-json`, holds, and stopping it (down, Ctrl-C)."""

import json
import signal
import subprocess
import sys

import boto3
import pytest

from amazon_channel_local.local_process import ROOT, LocalUpProcess

MFN = "113-0000000-0000001"
FBA = "114-0000000-0000002"


def cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "amazon_channel_local.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("local-up")
    with LocalUpProcess(
        run_dir, "--scenario", "scenarios/sample-events.json", "--env-json", str(run_dir / "env.json")
    ) as running:
        yield running


def aws(stack, service):
    return boto3.client(
        service,
        endpoint_url=stack.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_it_prints_the_endpoints_the_resources_and_the_events(stack):
    out = stack.output
    assert f"AWS endpoint  {stack.endpoint}" in out
    assert f"Amazon        {stack.info['amazon']}" in out and f"Commerce      {stack.info['commerce']}" in out
    resources = {r["logical_id"]: r["physical_id"] for r in stack.info["resources"]}
    for logical_id in ("OrdersTable", "NotificationsQueue", "MfnOrderStateMachine", "OrderNotificationIntakeFunction"):
        assert f" {logical_id} " in out and resources[logical_id] in out
    # the startup scenario: B's notifications were delivered and handled by the in-process intake
    assert f"ORDER_CHANGE {FBA} Shipped -> NotificationsQueue" in out
    assert "OrderNotificationIntakeFunction <- sqs:" in out


def test_it_prints_the_orders_page_and_serves_it(stack):
    """Given `local up`, the banner gives the orders page's URL, which answers with the page."""
    import urllib.request

    url = stack.info["orders_page"]
    assert f"Orders page   {url}" in stack.output and "demo-operator" in stack.output
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.status == 200 and '<main id="main"' in answer.read().decode()


def test_the_endpoint_is_the_stack_for_any_aws_client(stack):
    resources = {r["logical_id"]: r["physical_id"] for r in stack.info["resources"]}
    assert resources["OrdersTable"] in aws(stack, "dynamodb").list_tables()["TableNames"]
    machines = aws(stack, "stepfunctions").list_state_machines()["stateMachines"]
    assert sorted(m["stateMachineArn"] for m in machines) == sorted(
        resources[lid]
        for lid in ("MfnOrderStateMachine", "MfnOrderImportStateMachine", "MfnOrderShipmentsStateMachine")
    )
    calls = stack.control("GET", "/_local/requests")["requests"]
    assert {("dynamodb", "ListTables", 200), ("states", "ListStateMachines", 200)} <= {
        (c["service"], c["operation"], c["status"]) for c in calls
    }


def test_env_json_points_every_function_at_the_running_stack(stack, tmp_path):
    written = json.loads((stack.run_dir / "env.json").read_text())
    proc = cli("local", "env-json", "--run-dir", str(stack.run_dir))
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed == written
    assert set(printed) == set(stack.info["functions"])
    resources = {r["logical_id"]: r["physical_id"] for r in stack.info["resources"]}
    for logical_id, variables in printed.items():
        assert variables["AWS_ENDPOINT_URL"] == stack.endpoint, logical_id
        assert variables["ORDERS_TABLE"] == resources["OrdersTable"], logical_id
        # the SP-API and Commerce URLs point at the simulators, for the functions that have them
        assert variables.get("SP_API_ENDPOINT", stack.info["amazon"]) == stack.info["amazon"], logical_id
        assert variables.get("COMMERCE_BASE_URL", stack.info["commerce"]) == stack.info["commerce"], logical_id
    # each function has only its own variables, as in the template
    assert printed["FbaOrderImportFunction"]["PARKING_QUEUE_URL"] == resources["FbaOrderImportDeadLetterQueue"]
    assert printed["FbaOrderImportFunction"]["SP_API_ENDPOINT"] == stack.info["amazon"]
    assert printed["FbaOrderImportFunction"]["COMMERCE_BASE_URL"] == stack.info["commerce"]
    assert "COMMERCE_BASE_URL" not in printed["FetchOrderDetailsFunction"]
    assert "SP_API_ENDPOINT" not in printed["OrdersViewFunction"]


def test_the_simulators_are_driven_over_http_and_the_stack_reacts(stack):
    amazon, commerce = stack.info["amazon"], stack.info["commerce"]
    order = {
        "id": "113-0000000-0000042",
        "buyer": {"name": "Caio Reis", "email": "caio@example.com"},
        "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
    }
    placed = stack.control("POST", f"{amazon}/_sim/orders", order)
    assert placed["status"] == "Pending"
    stack.control("POST", f"{amazon}/_sim/orders/{order['id']}/verify_payment")
    stack.control("POST", "/_local/settle")
    created = stack.control("GET", f"{commerce}/_sim/orders/{order['id']}")
    assert created["status"] == "processing" and created["grand_total"] == "12.50"
    shipped = stack.control(
        "POST",
        f"{commerce}/_sim/ship",
        {"order_id": order["id"], "carrier": "UPS", "tracking_number": "1Z999AA10123456799"},
    )
    assert shipped["shipment_id"] >= 1
    assert stack.control("GET", f"{commerce}/_sim/emails") == {"emails": []}
    assigned = stack.control("POST", f"{commerce}/_sim/order-statuses", {"status": "amazon_new", "state": "new"})
    assert assigned == {"status": "amazon_new", "state": "new"}
    stack.control("POST", "/_local/settle")
    assert (
        stack.control("GET", f"{amazon}/_sim/orders/{order['id']}")["shipment_confirmations"][0]["tracking_number"]
        == "1Z999AA10123456799"
    )
    view = stack.control("GET", f"/_local/orders/{order['id']}")
    assert view["order"]["channel_status"] == "Shipped"
    assert any("confirmed to Amazon" in h["message"] for h in view["history"])
    executions = {e["name"]: e["status"] for e in stack.control("GET", "/_local/executions")["executions"]}
    assert executions[f"mfn-{order['id']}"] == "SUCCEEDED"
    # refusals are one line, with a meaningful status
    code, message = stack.try_control("POST", f"{amazon}/_sim/orders/{order['id']}/verify_payment")
    assert code and "cannot become Unshipped" in message
    code, message = stack.try_control("POST", f"{amazon}/_sim/orders", {"id": "nope", "items": []})
    assert code and "is not an Amazon order id" in message


def test_simulate_sends_a_scenario_to_the_running_stack(stack, tmp_path):
    scenario = tmp_path / "ship.json"
    scenario.write_text(
        json.dumps(
            {
                "name": "place, pay and ship one more order on the running stack",
                "steps": [
                    {
                        "do": "amazon.place_order",
                        "order": {
                            "id": "113-0000000-0000077",
                            "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
                        },
                    },
                    {"do": "amazon.verify_payment", "order_id": "113-0000000-0000077"},
                    {"do": "settle"},
                    {"do": "snapshot", "label": "unshipped"},
                    {
                        "do": "commerce.ship",
                        "order_id": "113-0000000-0000077",
                        "carrier": "USPS",
                        "tracking_number": "9400",
                    },
                ],
            }
        )
    )
    proc = cli("simulate", str(scenario), "--endpoint", stack.endpoint)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    (order,) = result["orders"]
    assert order["amazon_order_id"] == "113-0000000-0000077" and order["channel_status"] == "Shipped"
    assert result["snapshots"]["unshipped"]["orders"][0]["channel_status"] == "Unshipped"
    assert order["amazon_shipment_confirmations"] == [
        {"carrier": "USPS", "tracking_number": "9400", "items": [{"sku": "MUG-01", "qty": 1}]}
    ]

    # a later file may name an order the running stack's Amazon already has
    follow_up = tmp_path / "again.json"
    follow_up.write_text(json.dumps({"steps": [{"do": "amazon.redeliver_notifications"}, {"do": "settle"}]}))
    proc = cli("simulate", str(follow_up), "--endpoint", stack.endpoint)
    assert proc.returncode == 0, proc.stderr

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": [{"do": "amazon.ship", "order_id": "999-0000000-0000000"}]}))
    proc = cli("simulate", str(bad), "--endpoint", stack.endpoint)
    assert proc.returncode == 2
    assert (
        proc.stderr.startswith("amazon-channel: ") and "bad.json: step 1 (amazon.ship): unknown order id" in proc.stderr
    )
    assert len(proc.stderr.strip().splitlines()) == 1

    proc = cli("simulate", str(scenario), "--endpoint", "http://127.0.0.1:9")
    assert proc.returncode == 1 and "no local stack answers at http://127.0.0.1:9" in proc.stderr


def test_a_held_function_waits_for_you_and_the_workflow_resumes_on_release(stack):
    amazon = stack.info["amazon"]
    oid = "113-0000000-0000088"
    proc = cli("local", "hold", "CreateCommerceOrderFunction", "--endpoint", stack.endpoint)
    assert proc.returncode == 0 and "CreateCommerceOrderFunction" in proc.stdout
    stack.control(
        "POST", f"{amazon}/_sim/orders", {"id": oid, "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}]}
    )
    stack.control("POST", f"{amazon}/_sim/orders/{oid}/verify_payment")
    stack.control("POST", "/_local/settle")  # settles: the task waiting for a held function counts as idle
    assert stack.control("GET", f"/_local/orders/{oid}")["order"]["commerce"] is None
    executions = {e["name"]: e["status"] for e in stack.control("GET", "/_local/executions")["executions"]}
    assert executions[f"mfn-{oid}"] == "RUNNING"
    proc = cli("local", "release", "--endpoint", stack.endpoint)
    assert proc.returncode == 0 and "held: nothing" in proc.stdout
    stack.control("POST", "/_local/settle")
    assert stack.control("GET", f"/_local/orders/{oid}")["order"]["commerce"]["increment_id"]
    proc = cli("local", "hold", "NoSuchFunction", "--endpoint", stack.endpoint)
    assert proc.returncode == 1 and "not a function of the stack: NoSuchFunction" in proc.stderr


def test_local_down_stops_it_and_a_second_down_finds_nothing(tmp_path):
    running = LocalUpProcess(tmp_path / "run").start()
    status = cli("local", "status", "--run-dir", str(running.run_dir))
    assert status.returncode == 0 and running.endpoint in status.stdout
    again = LocalUpProcess(tmp_path / "run")  # the same run dir: refused while the first runs
    with pytest.raises(RuntimeError, match="a local stack is already running"):
        again.start()
    proc = cli("local", "down", "--run-dir", str(running.run_dir))
    assert proc.returncode == 0 and f"stopped the local stack at {running.endpoint}" in proc.stdout
    assert running.proc.wait(timeout=60) == 0
    assert "amazon-channel local stack stopped" in running.output
    assert not (running.run_dir / "local.json").exists()
    proc = cli("local", "down", "--run-dir", str(running.run_dir))
    assert proc.returncode == 0 and "no local stack is running" in proc.stdout
    proc = cli("local", "status", "--run-dir", str(running.run_dir))
    assert proc.returncode == 1 and "no local stack is running" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_it_cleanly(tmp_path, sig):
    running = LocalUpProcess(tmp_path / "run").start()
    assert running.stop(sig=sig) == 0
    assert "amazon-channel local stack stopped" in running.output
    assert "Traceback" not in running.output
    assert not (running.run_dir / "local.json").exists()
