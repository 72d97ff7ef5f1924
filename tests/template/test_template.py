"""Checks of the SAM template and the MFN state machine definition.

Static checks read template.yaml with samtranslator's YAML loader (it understands the CloudFormation
short tags). `sam validate --lint` and `sam build` run the SAM CLI of the project's venv.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "statemachines" / "mfn_order.asl.json"
# Express children of the MFN workflow: logical id -> definition file
CHILDREN = {
    "MfnOrderImportStateMachine": ROOT / "statemachines" / "mfn_order_import.asl.json",
    "MfnOrderShipmentsStateMachine": ROOT / "statemachines" / "mfn_order_shipments.asl.json",
}
CONTRACTS_PATH = ROOT / "docs" / "contracts.md"
VENV_BIN = Path(sys.executable).parent

RETRIED_ERRORS = {
    "TransientError",
    "VersionConflict",
    "AmazonThrottled",
    "AmazonUnavailable",
    "CommerceUnavailable",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml_parse(TEMPLATE_PATH.read_text())


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template["Resources"]


@pytest.fixture(scope="module")
def asl() -> dict:
    return json.loads(ASL_PATH.read_text())


@pytest.fixture(scope="module")
def children() -> dict[str, dict]:
    return {lid: json.loads(path.read_text()) for lid, path in CHILDREN.items()}


def _sam_env() -> dict:
    env = dict(os.environ)
    # The venv's bin first: `sam` itself, and a python3.13 for `sam build`'s runtime check.
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["SAM_CLI_TELEMETRY"] = "0"
    return env


def _sam() -> str:
    sam = VENV_BIN / "sam"
    if not sam.exists():
        found = shutil.which("sam")
        if not found:
            pytest.skip("SAM CLI not installed")
        return found
    return str(sam)


def _of_type(resources: dict, type_: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def _ref(value) -> str | None:
    """Logical id named by a Ref or GetAtt, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".", 1)[0]
    return None


def _contract_table(section_title: str) -> list[list[str]]:
    """Rows (cells) of the first table under a `## ` section of docs/contracts.md."""
    text = CONTRACTS_PATH.read_text()
    section = text.split(f"## {section_title}", 1)[1].split("\n## ", 1)[0]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|") and not re.match(r"^\|\s*-", line)
    ]
    return rows[1:]  # without the header


def _function_timeout(template: dict, function: dict) -> int:
    return int(function["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"]))


def _task_states(asl: dict) -> dict:
    return {name: s for name, s in asl["States"].items() if s["Type"] == "Task"}


# --------------------------------------------------------------------------- SAM CLI


def test_sam_validate_lint_passes():
    proc = subprocess.run(
        [_sam(), "validate", "--lint", "--template-file", str(TEMPLATE_PATH)],
        cwd=ROOT,
        env=_sam_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "is a valid SAM Template" in output, output


@pytest.mark.slow
def test_sam_build_builds_functions_and_layer(tmp_path):
    build_dir = tmp_path / "build"
    proc = subprocess.run(
        [
            _sam(),
            "build",
            "--template-file",
            str(TEMPLATE_PATH),
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-cached",
        ],
        cwd=tmp_path,  # SAM writes .aws-sam/deps under the working directory: keep the repo clean
        env=_sam_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    layer = build_dir / "ChannelLayer" / "python"
    assert (layer / "amazon_channel" / "__init__.py").is_file()
    assert (layer / "pydantic").is_dir()
    assert (layer / "aws_lambda_powertools").is_dir()
    for _folder, logical_id in _contract_functions():
        assert (build_dir / logical_id / "app.py").is_file(), logical_id


# --------------------------------------------------------------------------- state machine


def _well_formed(asl: dict) -> None:
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert asl["StartAt"] in asl["States"]
    for name, state in asl["States"].items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", [])]
        targets += [c["Next"] for c in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in asl["States"], f"{name} -> {target}"
        if state["Type"] not in ("Choice", "Succeed", "Fail"):
            assert "Next" in state or state.get("End") is True, name


def test_asl_is_jsonpath_and_well_formed(asl, children):
    assert "mfn-<AmazonOrderId>" in asl["Comment"]
    for definition in (asl, *children.values()):
        _well_formed(definition)


def test_every_task_has_retry_and_catch(asl):
    tasks = _task_states(asl)
    assert tasks
    for name, state in tasks.items():
        assert state.get("Retry"), name
        assert state.get("Catch"), name
        catch_all = [c for c in state["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        assert catch_all, name
        expected = "Failed" if name == "RecordOrderError" else "RecordOrderError"
        assert catch_all[0]["Next"] == expected, name
        if name != "RecordOrderError":
            assert catch_all[0]["ResultPath"] == "$.error", name
        if state["Resource"].startswith("arn:aws:states:::lambda:invoke"):
            retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
            assert retried >= RETRIED_ERRORS, name
            assert state["Parameters"]["FunctionName"].startswith("${"), name


def test_workflow_shape(asl, children):
    states = asl["States"]
    # The usual order costs three Standard transitions: import, wait for the merchant, ship.
    assert asl["StartAt"] == "ImportOrder"
    assert states["ImportOrder"]["Next"] == "WaitForShipments"
    assert states["WaitForShipments"]["Next"] == "ShipOrder"
    assert states["ShipOrder"]["End"] is True
    assert states["WaitForShipments"]["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert states["WaitForShipments"]["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert states["WaitForShipments"]["ResultPath"] == "$.wake"
    for name in ("AnnounceCommerceOrder", "AnnounceOrderShipped"):  # the week-long fallbacks stay on Standard
        assert states[name]["Resource"] == "arn:aws:states:::events:putEvents"
        assert states[name]["Retry"][0]["MaxAttempts"] >= 2000, name
    entry = states["AnnounceCommerceOrder"]["Parameters"]["Entries"][0]
    assert entry["DetailType"] == "CommerceOrderCreated"
    assert entry["Source"] == "amazon-channel"
    assert states["Failed"] == {**states["Failed"], "Type": "Fail", "Error": "OrderWorkflowFailed"}
    steps = {name: s for c in children.values() for name, s in c["States"].items()}
    for name in (
        "FetchOrderDetails",
        "ResolveCustomer",
        "CreateCommerceOrder",
        "ConfirmShipmentsToAmazon",
        "CompleteOrder",
    ):
        assert steps[name]["Parameters"]["Payload.$"] == "$", name
        assert steps[name]["OutputPath"] == "$.Payload", name
    assert states["RecordOrderError"]["Parameters"]["Payload.$"] == "$"


def _child_tasks(asl: dict) -> dict[str, dict]:
    """The parent's tasks that run an Express child, by the child's logical id."""
    return {
        s["Parameters"]["StateMachineArn"][2:-4].replace("StateMachineArn", "StateMachine"): s
        for s in asl["States"].values()
        if s.get("Resource") == "arn:aws:states:::states:startExecution.waitForTaskToken"
    }


def test_each_child_answers_the_parent_through_its_task_token(asl, children):
    tasks = _child_tasks(asl)
    assert set(tasks) == set(CHILDREN)
    for lid, task in tasks.items():
        given = task["Parameters"]["Input"]
        assert given["reply_token.$"] == "$$.Task.Token", lid
        assert given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == "$$.Execution.Id", lid
        assert 300 < task["TimeoutSeconds"] <= 600, "an Express execution lasts at most 5 minutes"
        assert "States.Timeout" in {e for r in task["Retry"] for e in r["ErrorEquals"]}, lid
        ends = [s for s in children[lid]["States"].values() if s.get("End")]
        assert ends, lid
        for state in ends:  # every way out answers the parent
            assert state["Resource"].startswith("arn:aws:states:::aws-sdk:sfn:sendTask"), lid
            assert state["Parameters"]["TaskToken.$"] == "$.reply_token", lid


def test_the_parent_catches_every_outcome_a_child_reports(asl, children):
    for lid, task in _child_tasks(asl).items():
        caught = {e for c in task["Catch"] for e in c["ErrorEquals"]}
        assert "States.ALL" in caught, lid
        reported = {
            s["Parameters"]["Error"] for s in children[lid]["States"].values() if "Error" in s.get("Parameters", {})
        }
        assert reported and reported <= caught, (lid, reported - caught)
        catch_all = [c for c in task["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        assert catch_all == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordOrderError"}]


def test_a_child_step_keeps_its_retries_and_hands_the_long_waits_to_the_parent(asl, children):
    """A failed step reaches the parent under its own name: the parent retries what outlasts an Express
    execution (AmazonThrottled for hours; a confirmation in progress or cut off), RecordOrderError the rest."""
    for child in children.values():
        for name, state in _task_states(child).items():
            if not state["Resource"].startswith("arn:aws:states:::lambda:invoke"):
                continue
            [catch] = state["Catch"]
            assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.error", name
            report = child["States"][catch["Next"]]
            assert report["Parameters"] == {
                **report["Parameters"],
                "Error.$": "$.error.Error",
                "Cause.$": "$.error.Cause",
            }
            retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
            assert retried >= RETRIED_ERRORS - {"AmazonThrottled"}, name
    tasks = _child_tasks(asl)
    retried_by_parent = {lid: {e: r for r in t["Retry"] for e in r["ErrorEquals"]} for lid, t in tasks.items()}
    throttled = retried_by_parent["MfnOrderImportStateMachine"]["AmazonThrottled"]
    assert throttled == {**throttled, "MaxAttempts": 60, "MaxDelaySeconds": 300, "JitterStrategy": "FULL"}
    fetch = children["MfnOrderImportStateMachine"]["States"]["FetchOrderDetails"]
    assert "AmazonThrottled" not in {e for r in fetch["Retry"] for e in r["ErrorEquals"]}
    assert {"ConfirmationInProgress", "Sandbox.Timedout"} <= set(retried_by_parent["MfnOrderShipmentsStateMachine"])
    # an empty confirmShipment or feeds budget is waited for on the Standard parent, as the import's is
    assert retried_by_parent["MfnOrderShipmentsStateMachine"]["AmazonThrottled"] == throttled
    confirm = children["MfnOrderShipmentsStateMachine"]["States"]["ConfirmShipmentsToAmazon"]
    assert "AmazonThrottled" not in {e for r in confirm["Retry"] for e in r["ErrorEquals"]}
    cancel = asl["States"]["RequestCancellationOnAmazon"]["Retry"]
    assert [r for r in cancel if "AmazonThrottled" in r["ErrorEquals"]] == [throttled]


def test_every_placeholder_has_a_substitution(asl, resources):
    machines = {"MfnOrderStateMachine": ASL_PATH, **CHILDREN}
    for lid, path in machines.items():
        placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", path.read_text()))
        machine = resources[lid]["Properties"]
        assert placeholders == set(machine["DefinitionSubstitutions"]), lid
        assert machine["DefinitionUri"] == str(path.relative_to(ROOT)), lid
        assert machine["Tracing"] == {"Enabled": True}, lid
        logging = machine["Logging"]
        assert logging["IncludeExecutionData"] is False, lid  # buyers' data stays out of the logs
        log_group = _ref(logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"])
        assert "RetentionInDays" in resources[log_group]["Properties"], lid
    machine = resources["MfnOrderStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD"
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-mfn-order"}
    for lid in CHILDREN:
        assert resources[lid]["Properties"]["Type"] == "EXPRESS", lid


def _machine_grants(resources, logical_id) -> set[tuple[str, str]]:
    out = set()
    for s in resources[logical_id]["Properties"]["Policies"][0]["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        targets = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        for target in targets:
            what = target if isinstance(target, str) else json.dumps(target)
            out |= {(a, what) for a in actions}
    return out


def test_the_parent_may_start_only_its_children_and_they_may_only_answer_it(resources):
    parent = _machine_grants(resources, "MfnOrderStateMachine")
    assert {w for a, w in parent if a == "states:StartExecution"} == {json.dumps({"Ref": lid}) for lid in CHILDREN}
    assert not {a for a, _w in parent if a.startswith("states:") and a != "states:StartExecution"}
    for lid in CHILDREN:
        grants = _machine_grants(resources, lid)
        answers = {(a, w) for a, w in grants if a.startswith("states:")}
        parent = "${AWS::StackName}-mfn-order"
        parent_arn = json.dumps(
            {"Fn::Sub": f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{parent}"}
        )
        assert answers == {("states:SendTaskSuccess", parent_arn), ("states:SendTaskFailure", parent_arn)}, lid


def test_each_child_alarms_on_failed_and_timed_out_executions(resources):
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    for lid in CHILDREN:
        watched = {
            a["Properties"]["MetricName"]
            for a in alarms.values()
            if a["Properties"].get("Namespace") == "AWS/States"
            and a["Properties"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": lid}}]
        }
        assert watched == {"ExecutionsFailed", "ExecutionsTimedOut"}, lid


# --------------------------------------------------------------------------- functions


def _contract_functions() -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in _contract_table("Functions")]


def test_template_declares_every_contract_env_var(template, resources):
    names, every = set(), set()
    for row in _contract_table("Environment variables"):
        found = re.findall(r"\b[A-Z][A-Z0-9_]+\b", row[0])
        names.update(found)
        if "Globals" in row[-1]:
            every.update(found)
    assert "ORDERS_TABLE" in every and "AWS_ENDPOINT_URL" in every
    # Globals keep what every function needs; the rest is declared per function
    assert set(template["Globals"]["Function"]["Environment"]["Variables"]) == every
    per_function = set()
    for function in _of_type(resources, "AWS::Serverless::Function").values():
        per_function |= set(((function["Properties"].get("Environment") or {}).get("Variables")) or {})
    assert names == every | per_function, names ^ (every | per_function)


def test_functions_match_contracts(template, resources):
    functions = _of_type(resources, "AWS::Serverless::Function")
    contract = _contract_functions()
    assert {logical_id for _, logical_id in contract} == set(functions)
    for folder, logical_id in contract:
        props = functions[logical_id]["Properties"]
        assert props["CodeUri"].rstrip("/") == f"functions/{folder}"
        assert (ROOT / "functions" / folder / "app.py").is_file()
    glob = template["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert glob["Handler"] == "app.handler"
    assert glob["Layers"] == [{"Ref": "ChannelLayer"}]


def test_every_function_has_log_group_with_retention_and_tracing(template, resources):
    global_tracing = template["Globals"]["Function"].get("Tracing")
    for logical_id, function in _of_type(resources, "AWS::Serverless::Function").items():
        props = function["Properties"]
        assert props.get("Tracing", global_tracing) == "Active", logical_id
        log_group_id = _ref(props["LoggingConfig"]["LogGroup"])
        log_group = resources[log_group_id]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        name = props["FunctionName"]["Fn::Sub"]
        assert log_group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}, logical_id


def _granted(resources, logical_id, effect="Allow") -> set[tuple[str, str]]:
    """(action, what) of a function's statements: `what` is the logical id a resource names."""
    out = set()
    for policy in resources[logical_id]["Properties"]["Policies"]:
        for s in policy["Statement"]:
            if s["Effect"] != effect:
                continue
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            targets = s.get("Resource", s.get("NotResource"))
            for target in targets if isinstance(targets, list) else [targets]:
                ref = target.get("Fn::GetAtt", [None])[0] or target.get("Ref") if isinstance(target, dict) else target
                sub = target.get("Fn::Sub") if isinstance(target, dict) else None
                if isinstance(sub, str):
                    ref = "MfnOrderStateMachine" if sub.endswith(":stateMachine:${AWS::StackName}-mfn-order") else sub
                out |= {(a, ref) for a in actions}
    return out


def _who(resources, action, what) -> set[str]:
    return {f for f in _of_type(resources, "AWS::Serverless::Function") if (action, what) in _granted(resources, f)}


def test_every_function_has_its_own_statements_no_wider_policy_template(resources):
    for logical_id in _of_type(resources, "AWS::Serverless::Function"):
        for policy in resources[logical_id]["Properties"]["Policies"]:
            assert list(policy) == ["Statement"], logical_id
        wildcards = {a for a, what in _granted(resources, logical_id) if what == "*"}
        # CloudWatch's GetMetricStatistics has no resource-level permission
        assert wildcards <= ({"cloudwatch:GetMetricStatistics"} if logical_id == "OrdersPageFunction" else set())


def test_only_the_intake_and_the_sync_start_workflows_and_every_waker_may_wake_one(resources):
    assert _who(resources, "states:StartExecution", "MfnOrderStateMachine") == {
        "OrderNotificationIntakeFunction",
        "OrderSyncFunction",
    }
    # Amazon cancellations wake a waiting workflow, from the notification or from the sync
    assert _who(resources, "states:SendTaskSuccess", "MfnOrderStateMachine") == {
        "OrderNotificationIntakeFunction",
        "OrderSyncFunction",
        "AwaitShipmentsFunction",
        "CommerceShipmentIntakeFunction",
        "CommerceCancellationIntakeFunction",
        "OrdersPageFunction",  # the orders page's Cancel on Amazon, as a cancellation from Commerce does
    }


def test_orders_are_never_scanned_or_batch_written_and_only_the_sync_deletes(resources):
    for action in ("dynamodb:Scan", "dynamodb:BatchWriteItem"):
        assert _who(resources, action, "OrdersTable") == set(), action
    # the orders page reads the orders of one page (at most 100) in full with one BatchGetItem
    assert _who(resources, "dynamodb:BatchGetItem", "OrdersTable") == {"OrdersPageFunction"}
    # the sync: its lease and the blocked-order marks; the daily maintenance: the buyer-data ledger entries
    assert _who(resources, "dynamodb:DeleteItem", "OrdersTable") == {"OrderSyncFunction", "DailyMaintenanceFunction"}


def test_idempotency_records_and_secrets_only_where_used(resources):
    assert {
        f
        for f in _of_type(resources, "AWS::Serverless::Function")
        if any(what == "IdempotencyTable" for _a, what in _granted(resources, f))
    } == {
        "OrderNotificationIntakeFunction",
        "FbaOrderImportFunction",
        "OrdersPageFunction",
    }  # page: one claim per action
    # the intake reads an order (getOrder) once its token is due
    assert _who(resources, "secretsmanager:GetSecretValue", "SpApiCredentialsSecret") == {
        "OrderNotificationIntakeFunction",
        "FetchOrderDetailsFunction",
        "ConfirmShipmentsFunction",
        "RequestAmazonCancellationFunction",
        "FbaOrderImportFunction",
        "OrderSyncFunction",
    }
    assert _who(resources, "secretsmanager:GetSecretValue", "CommerceTokenSecret") == {
        "ResolveCustomerFunction",
        "CreateCommerceOrderFunction",
        "CompleteOrderFunction",
        "CancelCommerceOrderFunction",
        "CommerceShipmentIntakeFunction",
        "CommerceCancellationIntakeFunction",
        "FbaOrderImportFunction",
    }


def test_only_the_functions_that_publish_may_put_events(resources):
    assert _who(resources, "events:PutEvents", "ChannelEventBus") == {
        "OrderNotificationIntakeFunction",
        "ConfirmShipmentsFunction",
        "FbaOrderImportFunction",
        "OrderSyncFunction",
    }


def test_an_sqs_triggered_function_reads_only_its_own_queue(resources):
    for logical_id, fn in _of_type(resources, "AWS::Serverless::Function").items():
        queues = [
            e["Properties"]["Queue"]["Fn::GetAtt"][0]
            for e in fn["Properties"].get("Events", {}).values()
            if e["Type"] == "SQS"
        ]
        denied = _granted(resources, logical_id, effect="Deny")
        if not queues:
            assert not denied, logical_id
            continue
        # SAM's AWSLambdaSQSQueueExecutionRole allows every queue; the Deny keeps all but its own
        assert denied == {(a, queues[0]) for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}


# --------------------------------------------------------------------------- queues and events


def test_notifications_queue_policy_grants_selling_partner_account(resources):
    policies = [
        p
        for p in _of_type(resources, "AWS::SQS::QueuePolicy").values()
        if {"Ref": "NotificationsQueue"} in p["Properties"]["Queues"]
    ]
    assert len(policies) == 1
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    grant = [s for s in statements if s.get("Principal", {}).get("AWS") == "arn:aws:iam::437568002678:root"]
    assert grant and grant[0]["Effect"] == "Allow"
    assert {"sqs:SendMessage", "sqs:GetQueueAttributes"} <= set(grant[0]["Action"])


def test_every_consumed_queue_has_dlq_and_long_enough_visibility(template, resources):
    consumed = 0
    for logical_id, function in _of_type(resources, "AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            consumed += 1
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            queue = resources[_ref(event["Properties"]["Queue"])]["Properties"]
            dlq = _ref(queue["RedrivePolicy"]["deadLetterTargetArn"])
            assert resources[dlq]["Type"] == "AWS::SQS::Queue"
            assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "NotificationsMaxReceiveCount"}
            assert queue["VisibilityTimeout"] >= 6 * _function_timeout(template, function), logical_id
    assert consumed == 5
    for logical_id, queue in _of_type(resources, "AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, logical_id


def test_parking_queue_is_the_notifications_dlq(template, resources):
    env = resources["OrderNotificationIntakeFunction"]["Properties"]["Environment"]["Variables"]
    dlq = _ref(resources["NotificationsQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
    assert env["PARKING_QUEUE_URL"] == {"Ref": dlq}


def test_rules_target_queues_with_dlq_retry_and_scoped_queue_policy(resources):
    rules = _of_type(resources, "AWS::Events::Rule")
    assert set(rules) == {
        "FbaOrderShippedRule",
        "CommerceShipmentSavedRule",
        "CommerceOrderCreatedRule",
        "CommerceOrderCanceledRule",
    }
    queue_policies = _of_type(resources, "AWS::SQS::QueuePolicy").values()
    for rule_id, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            queue_id = _ref(target["Arn"])
            queue = resources[queue_id]["Properties"]
            dlq_id = _ref(target["DeadLetterConfig"]["Arn"])
            assert _ref(queue["RedrivePolicy"]["deadLetterTargetArn"]) == dlq_id, rule_id
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
            policy = [p for p in queue_policies if {"Ref": queue_id} in p["Properties"]["Queues"]]
            assert policy, rule_id
            assert {"Ref": dlq_id} in policy[0]["Properties"]["Queues"], rule_id
            statement = policy[0]["Properties"]["PolicyDocument"]["Statement"][0]
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}
            assert _ref(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == rule_id
    shipment = rules["CommerceShipmentSavedRule"]["Properties"]["EventPattern"]
    # Adobe I/O Events' source and "<provider label>:<event code>" detail-type: the code is matched
    assert shipment["source"] == [{"prefix": "aws.partner/developer.adobe.com"}]
    assert shipment["detail-type"] == [{"suffix": ":com.adobe.commerce.observer.sales_order_shipment_save_after"}]
    canceled = rules["CommerceOrderCanceledRule"]["Properties"]
    assert canceled["EventBusName"] == rules["CommerceShipmentSavedRule"]["Properties"]["EventBusName"]
    assert canceled["EventPattern"]["source"] == [{"prefix": "aws.partner/developer.adobe.com"}]
    assert canceled["EventPattern"]["detail-type"] == [
        {"suffix": ":com.adobe.commerce.observer.order_cancel_after"},
        {"suffix": ":com.adobe.commerce.observer.sales_order_creditmemo_save_after"},
    ]


def test_tables(resources):
    def keys(props):
        return {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}

    orders = resources["OrdersTable"]["Properties"]
    assert keys(orders) == {"pk": "HASH", "sk": "RANGE"}
    indexes = {i["IndexName"]: i for i in orders["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"OrdersView", "OrdersByStatus"}
    assert keys(indexes["OrdersView"]) == {"view_pk": "HASH", "view_sk": "RANGE"}
    assert keys(indexes["OrdersByStatus"]) == {"status_pk": "HASH", "status_sk": "RANGE"}
    assert keys(resources["StoresTable"]["Properties"]) == {"id": "HASH"}
    idempotency = resources["IdempotencyTable"]["Properties"]
    assert keys(idempotency) == {"id": "HASH"}
    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    for table in _of_type(resources, "AWS::DynamoDB::Table").values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True


def test_alarms_cover_every_dlq_and_failed_executions(resources):
    alarms = [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()]
    watched_queues = {
        _ref(d["Value"])
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for d in a["Dimensions"]
    }
    dlqs = {
        _ref(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in _of_type(resources, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dlqs and dlqs <= watched_queues
    assert any(a.get("MetricName") == "ExecutionsFailed" for a in alarms)
    assert any(a.get("MetricName") == "OrdersBlocked" and a["Namespace"] == "AmazonChannel" for a in alarms)


def test_outputs(template):
    outputs = template["Outputs"]
    for name in (
        "NotificationsQueueUrl",
        "NotificationsQueueArn",
        "ChannelEventBusName",
        "OrdersTableName",
        "StoresTableName",
        "IdempotencyTableName",
        "MfnOrderStateMachineArn",
    ):
        assert name in outputs, name


def test_no_role_grants_on_a_wildcard_but_the_workflow_s_log_delivery():
    """`python -m amazon_channel_local.iam_grants` counts the roles' own statements, as translated by SAM."""
    from amazon_channel_local.iam_grants import grants_by_principal, translated

    grants = grants_by_principal(translated(TEMPLATE_PATH.read_text()))
    machines = {"MfnOrderStateMachine", *CHILDREN}
    assert {lid for lid, g in grants.items() if g["wildcards"]} == machines | {"OrdersPageFunction"}
    for lid in machines:  # vended-logs actions: no resource-level permissions
        assert grants[lid]["wildcards"] == 8, lid
    assert grants["OrdersPageFunction"]["wildcards"] == 1  # cloudwatch:GetMetricStatistics: none either


def _waits(retrier: dict) -> list[float]:
    interval, rate = retrier["IntervalSeconds"], retrier.get("BackoffRate", 2.0)
    return [interval * rate**i for i in range(retrier["MaxAttempts"])]


def test_a_creation_in_progress_is_waited_for_longer_than_its_lease_can_last(template, resources, children):
    """Given CreateCommerceOrder's create lease (the function's timeout + 3 s at most), then its
    CommerceOrderInProgress retries wait longer than that, so a second creator outwaits the first
    instead of failing the import while the first still records its Commerce order; and they fit
    in an Express child's 5 minutes with the rest of the import."""
    state = children["MfnOrderImportStateMachine"]["States"]["CreateCommerceOrder"]
    [in_progress] = [r for r in state["Retry"] if r["ErrorEquals"] == ["CommerceOrderInProgress"]]
    lease = _function_timeout(template, resources["CreateCommerceOrderFunction"]) + 3.0
    waits = _waits(in_progress)
    assert sum(waits[:-1]) < lease < sum(waits), waits
    assert sum(waits) <= 120, "an Express execution lasts at most 5 minutes, the import's other steps included"
