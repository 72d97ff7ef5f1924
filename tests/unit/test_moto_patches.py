"""The local stack's moto patches (amazon_channel_local.moto_patches): each one still applies to the
installed moto, is still needed (moto still behaves as the patch's docstring says), and the stack
refuses a moto outside the versions the patches were tested with."""

import inspect

import pytest
from packaging.version import Version

from amazon_channel_local import moto_patches
from amazon_channel_local.cfn_models import EXTRA_MODELS
from amazon_channel_local.moto_patches import PATCHES, MotoPatches, PatchNoLongerApplies, UnsupportedMoto


def _patches(time_scale: float = 0.5, clock=None) -> MotoPatches:
    return MotoPatches(lambda fn, event: ("null", False, ""), lambda kind, arn, event: None, time_scale, clock)


def _source(obj) -> str:
    return inspect.getsource(obj)


# One check per patch, run against moto unpatched: True while moto still behaves as the patch says.
def _lambda_runs_in_docker() -> bool:
    from moto.awslambda.models import LambdaFunction

    return "docker" in _source(LambdaFunction._invoke_lambda)


def _simple_backend_echoes_the_event() -> bool:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    return (
        LambdaSimpleBackend("us-east-1", "123456789012").invoke("fn", None, '{"order": 1}', {}, {}) == b'{"order": 1}'
    )


def _cloudformation_drops_layers() -> bool:
    from moto.awslambda.models import LambdaFunction

    return "Layers" not in _source(LambdaFunction.create_from_cloudformation_json)


def _refs_give_objects() -> bool:
    from moto.awslambda.models import LayerVersion
    from moto.events.models import Archive, EventBus

    return not any(hasattr(cls, "physical_resource_id") for cls in (EventBus, Archive, LayerVersion))


def _cloudformation_state_machines_elsewhere() -> bool:
    from moto.stepfunctions.models import StateMachine

    src = _source(StateMachine.create_from_cloudformation_json)
    return "stepfunctions_backends[" in src and "get_backend" not in src


def _extra_types_unsupported() -> bool:
    from moto.cloudformation.parsing import resource_class_from_type

    return all(resource_class_from_type(t) is None for t in EXTRA_MODELS)


def _rules_refuse_lambda_and_states() -> bool:
    from moto.events.models import Rule

    src = _source(Rule.send_to_targets)
    return '"lambda"' not in src and '"states"' not in src and "NotImplementedError" in src


def _template_drops_account() -> bool:
    from moto.events.utils import EventTemplateParser

    return '"account"' not in EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE


def _replay_ignores_window_and_rules() -> bool:
    from moto.events.models import Replay

    src = _source(Replay.replay_events)
    return "FilterArns" not in src and "event_start_time" not in src


def _put_events_errors_are_runtime() -> bool:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events import (
        StateTaskServiceEvents,
    )

    return "ClientError" not in _source(StateTaskServiceEvents._from_error)


def _retries_sleep_real_time() -> bool:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    return "time.sleep(interval_seconds)" in _source(retrier_decl)


def _waits_real_time() -> bool:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    return "wait_seconds" in _source(WaitFunction._wait_interval) and "scale" not in _source(WaitFunction)


def _sqs_reads_the_machine_time() -> bool:
    import moto.sqs.models as sqs_models

    return "unix_time()" in _source(sqs_models) and "unix_time_millis()" in _source(sqs_models)


def _states_calls_share_one_key() -> bool:
    from moto.stepfunctions.parser.asl.utils import boto_client

    return "role_arn" not in _source(boto_client.boto_client_for)


def _task_parameters_passed_as_written() -> bool:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    class Probe:
        _get_boto_service_name = staticmethod(lambda name=None: name or "stepfunctions")
        _get_boto_service_action = staticmethod(lambda action=None: action or "start_execution")

    parameters = {"Input": "{}"}
    StateTaskService._normalise_parameters(Probe(), parameters, "stepfunctions", "start_execution")  # type: ignore[arg-type]  # a probe
    return "Input" in parameters


def _task_failure_drops_cause() -> bool:
    from moto.stepfunctions.responses import StepFunctionResponse

    return '"cause"' not in _source(StepFunctionResponse.send_task_failure)


def _callbacks_ask_every_worker() -> bool:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    source = _source(StepFunctionsParserBackend.send_task_success) + _source(
        StepFunctionsParserBackend.send_task_failure
    )
    return "execution.exec_worker.env.callback_pool_manager" in source


def _transactions_copy_whole_tables() -> bool:
    from moto.dynamodb.models import DynamoDBBackend

    return "copy.deepcopy(\n                    self.tables[table_name]" in _source(
        DynamoDBBackend.transact_write_items
    )


def _executions_parse_their_definition() -> bool:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    return "AmazonStateLanguageParser.parse(" in _source(ExecutionWorker._get_evaluation_entrypoint)


def _json_paths_parsed_each_time() -> bool:
    import jsonpath_ng.ext
    from moto.events.utils import EventTemplateParser
    from moto.stepfunctions.parser.asl.utils import json_path

    parse = jsonpath_ng.ext.parse
    return (
        "from jsonpath_ng.ext import parse" in _source(EventTemplateParser.parse)
        and json_path.parse is parse
        and not hasattr(parse, "cache_info")
    )


STILL_NEEDED = {
    "lambda_runs_in_process": _lambda_runs_in_docker,
    "simple_lambda_backend_invokes": _simple_backend_echoes_the_event,
    "cloudformation_keeps_function_layers": _cloudformation_drops_layers,
    "cloudformation_refs_are_names": _refs_give_objects,
    "cloudformation_state_machines_in_the_api_backend": _cloudformation_state_machines_elsewhere,
    "cloudformation_creates_extra_types": _extra_types_unsupported,
    "rules_deliver_to_lambda_and_step_functions": _rules_refuse_lambda_and_states,
    "sqs_targets_get_the_account": _template_drops_account,
    "replays_keep_their_window_and_rules": _replay_ignores_window_and_rules,
    "put_events_task_errors_are_task_failures": _put_events_errors_are_runtime,
    "retry_intervals_scaled": _retries_sleep_real_time,
    "wait_states_scaled": _waits_real_time,
    "sqs_on_the_stack_clock": _sqs_reads_the_machine_time,
    "state_machines_call_with_their_role": _states_calls_share_one_key,
    "task_parameters_named_as_the_api": _task_parameters_passed_as_written,
    "task_failures_keep_their_cause": _task_failure_drops_cause,
    "task_callbacks_skip_executions_without_a_worker": _callbacks_ask_every_worker,
    "transactions_back_up_only_their_items": _transactions_copy_whole_tables,
    "state_machines_parsed_once": _executions_parse_their_definition,
    "json_paths_parsed_once": _json_paths_parsed_each_time,
}


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_each_patch_is_still_needed(patch):
    """Given moto unpatched, when the patch's upstream behaviour is checked, then moto still has it
    (if not, moto fixed it: remove the patch)."""
    assert patch.name in STILL_NEEDED, f"{patch.name} has no 'still needed' check in this file"
    assert patch.upstream, f"{patch.name} has no docstring naming the upstream behaviour"
    assert STILL_NEEDED[patch.name](), f"moto no longer behaves as {patch.name} says; remove the patch"


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_each_patch_still_applies_and_is_undone(patch):
    """Given the installed moto, when the patch alone is applied and undone, then it finds every
    internal it replaces, and moto is as before."""
    from amazon_channel_local.stack_clock import SimulatedClock

    patches = _patches(clock=SimulatedClock())
    patches.apply([patch])
    replaced = [(owner, name, getattr(owner, name)) for owner, name, _v, _had in patches._undo]
    assert replaced, f"{patch.name} replaced nothing"
    patches.undo()
    for owner, name, value in replaced:
        assert getattr(owner, name, None) is not value


def test_the_faults_hook_still_applies():
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__
    patches = _patches()
    patches.wrap_botocore_send(lambda send: send)
    patches.undo()
    assert BotocoreStubber.__call__ is original


def test_time_scale_patches_only_when_time_is_scaled():
    """Given a stack at real time, then the Retry and Wait timings are moto's own."""
    scaled = {p.name for p in PATCHES if p.only_if is not None}
    assert scaled == {"retry_intervals_scaled", "wait_states_scaled", "sqs_on_the_stack_clock"}
    assert not any(p.only_if(_patches(time_scale=1.0)) for p in PATCHES if p.only_if)


def test_the_installed_moto_is_one_every_patch_was_tested_with():
    version = moto_patches.installed_moto()
    assert all(version in p.versions for p in PATCHES), f"moto {version}: review the patches (see the module docstring)"


def test_a_moto_outside_the_tested_range_is_refused_loudly(monkeypatch):
    """Given moto 5.3.0 installed, when the local stack applies its patches, then it refuses,
    naming the patches, and patches nothing."""
    monkeypatch.setattr(moto_patches, "installed_moto", lambda: Version("5.3.0"))
    patches = _patches()
    with pytest.raises(UnsupportedMoto, match=r"moto 5\.3\.0.*lambda_runs_in_process"):
        patches.apply()
    assert patches._undo == []


def test_a_patched_internal_that_is_gone_is_named():
    """Given a moto without the internal a patch replaces, then applying it says which patch and what."""

    class Model:
        pass

    def gone(p):
        p.set(Model, "send_to_targets", None)

    patch = moto_patches.MotoPatch("gone", gone, PATCHES[0].versions)
    with pytest.raises(PatchNoLongerApplies, match=r"gone: moto .* has no .*Model\.send_to_targets"):
        _patches().apply([patch])


@pytest.fixture
def orders_table():
    import boto3
    from moto import mock_aws

    patch = next(p for p in PATCHES if p.name == "transactions_back_up_only_their_items")
    patches = _patches()
    with mock_aws():
        patches.apply([patch])
        try:
            db = boto3.client("dynamodb", region_name="us-east-1")
            db.create_table(
                TableName="orders",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
            db.put_item(TableName="orders", Item={"pk": {"S": "ORDER#1"}, "sk": {"S": "STATE"}, "v": {"N": "1"}})
            yield db
        finally:
            patches.undo()


def _write_and_history(db, condition: str) -> list[dict]:
    key = {"pk": {"S": "ORDER#1"}, "sk": {"S": "STATE"}}
    return [
        {
            "Update": {
                "TableName": "orders",
                "Key": key,
                "UpdateExpression": "SET v = :n",
                "ExpressionAttributeValues": {":n": {"N": "2"}},
            }
        },
        {"Put": {"TableName": "orders", "Item": {"pk": {"S": "ORDER#1"}, "sk": {"S": "HISTORY#1"}}}},
        {
            "ConditionCheck": {
                "TableName": "orders",
                "Key": {"pk": {"S": "STORE#1"}, "sk": {"S": "BUDGET"}},
                "ConditionExpression": condition,
            }
        },
    ]


def _stream_records(db) -> int:
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends["123456789012"]["us-east-1"].tables["orders"].stream_shard
    assert shard is not None
    return len(shard.items)


def test_a_failed_transaction_leaves_its_items_and_stream_as_they_were(orders_table):
    """Given an order's state, when a transaction updating it and adding a history row fails on a
    third item's condition, then neither write stays, and the stream shows neither (as on AWS)."""
    import botocore.exceptions

    db = orders_table
    records = _stream_records(db)
    with pytest.raises(botocore.exceptions.ClientError, match="TransactionCanceled"):
        db.transact_write_items(TransactItems=_write_and_history(db, "attribute_exists(pk)"))
    items = db.query(
        TableName="orders", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "ORDER#1"}}
    )["Items"]
    assert items == [{"pk": {"S": "ORDER#1"}, "sk": {"S": "STATE"}, "v": {"N": "1"}}]
    assert _stream_records(db) == records


def test_a_transaction_that_holds_writes_every_item(orders_table):
    db = orders_table
    db.transact_write_items(TransactItems=_write_and_history(db, "attribute_not_exists(pk)"))
    items = db.query(
        TableName="orders", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "ORDER#1"}}
    )["Items"]
    assert [(i["sk"]["S"], i.get("v")) for i in items] == [("HISTORY#1", None), ("STATE", {"N": "2"})]
