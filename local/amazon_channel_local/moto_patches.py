"""Patches to moto, applied only while a LocalStack runs (``MotoPatches.undo`` removes them).

Each patch is one function below, registered with ``@moto_patch``. Its docstring says what moto
does and what AWS does instead, and names the upstream issue where one exists. Each has two tests
in ``tests/unit/test_moto_patches.py``: one fails when the installed moto no longer behaves so (the
patch is no longer needed: remove it), the other when the patched internal is gone or changed (the
patch no longer applies). To add one: write the function, register it, add its "still needed"
check there (the test refuses a patch without one).

Versions: every patch names the moto versions it was written and tested against (``MOTO_TESTED``,
the pinned 5.2.5 up to the next minor). Outside that range ``MotoPatches.apply`` refuses loudly
(``UnsupportedMoto``) rather than skip with a warning: a skipped patch silently changes what the
local stack enforces (events not delivered, invocations going to Docker), and the failure would
surface far away, in an unrelated test. Bumping moto means running the patch tests and widening
the range of the patches that still apply.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

#: the access key of the boto3 clients moto's Step Functions makes for service integrations
STATES_ACCESS_KEY = "ak"

# The pinned moto (requirements-dev.txt) and its patch releases, which keep these internals.
MOTO_TESTED = ">=5.2.5,<5.3"


class UnsupportedMoto(RuntimeError):
    """The installed moto is outside a patch's tested range."""


class PatchNoLongerApplies(RuntimeError):
    """A patched moto internal is gone: the patch must be reviewed against the new moto."""


@dataclass(frozen=True)
class MotoPatch:
    name: str
    install: Callable[[MotoPatches], None]
    versions: SpecifierSet
    only_if: Callable[[MotoPatches], bool] | None = None

    @property
    def upstream(self) -> str:
        """The docstring's first paragraph: moto's behaviour and the upstream reference."""
        return " ".join((self.install.__doc__ or "").strip().split("\n\n")[0].split())


PATCHES: list[MotoPatch] = []


def moto_patch(
    versions: str = MOTO_TESTED, only_if: Callable[[MotoPatches], bool] | None = None
) -> Callable[[Callable[[MotoPatches], None]], Callable[[MotoPatches], None]]:
    """Register a patch function (applied in registration order)."""

    def register(install: Callable[[MotoPatches], None]) -> Callable[[MotoPatches], None]:
        PATCHES.append(MotoPatch(install.__name__, install, SpecifierSet(versions), only_if))
        return install

    return register


def installed_moto() -> Version:
    return Version(importlib.metadata.version("moto"))


def check_versions(patches: list[MotoPatch], version: Version) -> None:
    """Refuse, naming each patch whose tested range does not hold `version`."""
    outside = [f"{p.name} ({p.versions})" for p in patches if version not in p.versions]
    if outside:
        raise UnsupportedMoto(
            f"moto {version} is not a version these patches were tested with: {', '.join(outside)}. "
            "Install the pinned moto (./dev setup), or run tests/unit/test_moto_patches.py against "
            "the new one and widen the ranges of the patches that still apply."
        )


class MotoPatches:
    def __init__(
        self,
        dispatch: Callable[[Any, Any], tuple[str, bool, str]],
        deliver: Callable[[str, str, dict], None],
        time_scale: float = 1.0,
        clock: Any = None,
    ):
        self.time_scale = time_scale
        self.clock = clock  # a stack_clock clock; None: the machine's
        self.dispatch = dispatch
        self.deliver = deliver
        self._undo: list[tuple[Any, str, Any, bool]] = []
        self._current = "?"

    def set(self, owner: Any, name: str, value: Any, *, new: bool = False) -> None:
        """Replace `owner.name` (undone by `undo`); it must exist unless the patch adds it (`new`)."""
        if not new and not hasattr(owner, name):
            where = getattr(owner, "__qualname__", getattr(owner, "__name__", repr(owner)))
            raise PatchNoLongerApplies(f"{self._current}: moto {installed_moto()} has no {where}.{name}")
        had = name in owner.__dict__
        self._undo.append((owner, name, owner.__dict__.get(name), had))
        setattr(owner, name, value)

    def apply(self, patches: list[MotoPatch] | None = None) -> None:
        """Apply `patches` (default: every registered one that is wanted), after the version check."""
        wanted = [p for p in (PATCHES if patches is None else patches) if p.only_if is None or p.only_if(self)]
        check_versions(wanted, installed_moto())
        for patch in wanted:
            self._current = patch.name
            patch.install(self)

    def wrap_botocore_send(self, wrap: Callable[[Any], Any]) -> None:
        """Put `wrap(send)` in front of moto's botocore hook (every mocked AWS call), e.g. faults."""
        from moto.core.botocore_stubber import BotocoreStubber

        self._current = "wrap_botocore_send"
        self.set(BotocoreStubber, "__call__", wrap(BotocoreStubber.__call__))

    def undo(self) -> None:
        while self._undo:
            owner, name, value, had = self._undo.pop()
            if had:
                setattr(owner, name, value)
            else:
                delattr(owner, name)


# --- Lambda -----------------------------------------------------------------------------------


@moto_patch()
def lambda_runs_in_process(p: MotoPatches) -> None:
    """moto runs a function in Docker (``LambdaFunction._invoke_lambda``); the local stack runs it
    in-process through ``dispatch(fn_model, event) -> (payload, errored, logs)``. A hook, not a
    moto bug: no upstream issue.

    Every invoke goes through it: the API, and Step Functions ``lambda:invoke`` /
    ``.waitForTaskToken`` tasks on moto's background thread.
    """
    import moto.awslambda.models as lambda_models

    dispatch = p.dispatch

    def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
        return dispatch(fn, event)

    p.set(lambda_models.LambdaFunction, "_invoke_lambda", _invoke_lambda)


@moto_patch()
def simple_lambda_backend_invokes(p: MotoPatches) -> None:
    """moto's no-Docker Lambda backend (``LambdaSimpleBackend.invoke``) answers every invoke with
    the event itself and never reaches ``LambdaFunction._invoke_lambda``; it is routed like the
    Docker one, so that ``lambda_runs_in_process`` sees every invoke. A hook: no upstream issue.
    """
    import moto.awslambda.models as lambda_models
    import moto.awslambda_simple.models as lambda_simple

    p.set(lambda_simple.LambdaSimpleBackend, "invoke", lambda_models.LambdaBackend.invoke)


@moto_patch()
def cloudformation_keeps_function_layers(p: MotoPatches) -> None:
    """moto's CloudFormation drops an ``AWS::Lambda::Function``'s ``Layers``
    (``LambdaFunction.create_from_cloudformation_json`` copies only some optional properties);
    CloudFormation attaches them. No upstream issue found (getmoto/moto#3563 added Layers to the
    API, not to the CloudFormation model).
    """
    import moto.awslambda.models as lambda_models

    original = lambda_models.LambdaFunction.create_from_cloudformation_json.__func__

    def fn_from_cfn(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        fn = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        layers = cloudformation_json["Properties"].get("Layers")
        if layers:
            fn.layers = fn._get_layers_data(layers)
        return fn

    p.set(lambda_models.LambdaFunction, "create_from_cloudformation_json", classmethod(fn_from_cfn))


# --- CloudFormation ---------------------------------------------------------------------------


@moto_patch()
def cloudformation_refs_are_names(p: MotoPatches) -> None:
    """moto's CloudFormation resolves ``Ref`` to a model's ``physical_resource_id``, and to the
    model object itself when it has none: so for ``AWS::Events::EventBus``, ``AWS::Events::Archive``
    and ``AWS::Lambda::LayerVersion``. CloudFormation gives the bus's and the archive's name, and
    the layer version's ARN. No upstream issue found.
    """
    import moto.awslambda.models as lambda_models
    import moto.events.models as events_models

    p.set(events_models.EventBus, "physical_resource_id", property(lambda self: self.name), new=True)
    p.set(events_models.Archive, "physical_resource_id", property(lambda self: self.name), new=True)
    p.set(lambda_models.LayerVersion, "physical_resource_id", property(lambda self: self.arn), new=True)


@moto_patch()
def cloudformation_state_machines_in_the_api_backend(p: MotoPatches) -> None:
    """moto's CloudFormation creates (and deletes) a state machine in the plain Step Functions
    backend (``stepfunctions_backends``), while the API, with ``execute_state_machine`` on, uses
    the parser backend (``moto.stepfunctions.responses.get_backend``): the stack's state machine
    did not exist for ``StartExecution``. No upstream issue found.
    """
    import moto.stepfunctions.models as sfn_models

    def sm_from_cfn(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        from moto.stepfunctions.responses import get_backend

        properties = cloudformation_json["Properties"]
        return get_backend(account_id, region_name).create_state_machine(
            properties.get("StateMachineName", resource_name),
            properties.get("DefinitionString", ""),
            properties.get("RoleArn", ""),
            tags=sfn_models.cfn_to_api_tags(properties.get("Tags", [])),
            sm_type=properties.get("StateMachineType"),
        )

    def sm_delete_cfn(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.stepfunctions.responses import get_backend

        get_backend(account_id, region_name).delete_state_machine(resource_name)

    p.set(sfn_models.StateMachine, "create_from_cloudformation_json", classmethod(sm_from_cfn))
    p.set(sfn_models.StateMachine, "delete_from_cloudformation_json", classmethod(sm_delete_cfn))


@moto_patch()
def cloudformation_creates_extra_types(p: MotoPatches) -> None:
    """moto's CloudFormation skips resource types it has no model for (``resource_class_from_type``
    answers None with "No Moto CloudFormation support"), though moto's APIs support them: Secrets
    Manager secrets, SQS queue policies, Scheduler schedules, CloudWatch alarms, SNS subscriptions.
    They are created through the backends (``cfn_models.EXTRA_MODELS``). No upstream issue found.
    """
    import moto.cloudformation.parsing as cfn_parsing

    from .cfn_models import EXTRA_MODELS

    original = cfn_parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type in EXTRA_MODELS:
            return EXTRA_MODELS[resource_type]
        return original(resource_type)

    p.set(cfn_parsing, "resource_class_from_type", resource_class_from_type)


# --- DynamoDB ---------------------------------------------------------------------------------


@moto_patch()
def transactions_back_up_only_their_items(p: MotoPatches) -> None:
    """moto's ``DynamoDBBackend.transact_write_items`` deep-copies every table a transaction writes
    (``copy.deepcopy(self.tables[table_name])``), to put it back if the transaction fails. The
    orders table holds every order's history, so each write cost time in proportion to the whole
    table: 36% of `simulate`'s CPU on 50 orders, growing with the square of the orders. A
    performance patch, not a behaviour difference: no upstream issue found.

    A transaction names each item at most once (DynamoDB refuses it otherwise), so a copy of those
    items (at most 100) puts everything back: the table is no longer copied, and a failed
    transaction restores its items and the table's stream records as moto's copy would.
    """
    import copy as stdlib_copy
    import threading

    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.table import Table

    original = dynamodb_models.DynamoDBBackend.transact_write_items
    backing_up = threading.local()

    class _TablesKept:
        """moto's module `copy`, but a table 'copied' for a transaction's rollback is itself."""

        def __getattr__(self, name: str) -> Any:
            return getattr(stdlib_copy, name)

        @staticmethod
        def deepcopy(x: Any, memo: Any = None) -> Any:
            if isinstance(x, Table) and getattr(backing_up, "items", False):
                return x
            return stdlib_copy.deepcopy(x, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backup = _item_backup(self, transact_items)
        if backup is None:  # a key moto will refuse: its own path, copy and all
            return original(self, transact_items)
        backing_up.items = True
        try:
            return original(self, transact_items)
        except BaseException:
            _restore_items(backup)
            raise
        finally:
            backing_up.items = False

    p.set(dynamodb_models, "copy", _TablesKept())
    p.set(dynamodb_models.DynamoDBBackend, "transact_write_items", transact_write_items)


def _item_backup(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any, int]] | None:
    """(table, hash key, range key, a copy of the item or None, stream records) of each item written."""
    import copy

    backup = []
    for entry in transact_items:
        try:
            _op_type, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            keys = op.get("Key")
            if keys is None:  # a Put names its item's key in the item
                item = op["Item"]
                keys = {a: item[a] for a in (table.hash_key_attr, table.range_key_attr) if a is not None}
            hash_key, range_key = backend.get_keys_value(table, keys)
            current = table.get_item(hash_key, range_key)
        except Exception:  # noqa: BLE001 - moto refuses the transaction itself, with its own error
            return None
        shard = table.stream_shard
        backup.append((table, hash_key, range_key, copy.deepcopy(current), len(shard.items) if shard else 0))
    return backup


def _restore_items(backup: list[tuple[Any, Any, Any, Any, int]]) -> None:
    for table, hash_key, range_key, item, stream_records in backup:
        if range_key is not None:
            versions = table.items[hash_key]
            if item is None:
                versions.pop(range_key, None)
            else:
                versions[range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        if table.stream_shard is not None:
            del table.stream_shard.items[stream_records:]


# --- EventBridge ------------------------------------------------------------------------------


@moto_patch()
def rules_deliver_to_lambda_and_step_functions(p: MotoPatches) -> None:
    """moto's ``Rule.send_to_targets`` delivers to logs, archives, SQS, buses and API destinations,
    and raises ``NotImplementedError`` for any other target, so ``PutEvents`` failed for a rule with
    a Lambda or Step Functions target. Such targets are handed to ``deliver(kind, arn, event)``.
    Upstream: getmoto/moto#8452 (Step Functions targets; PR #9132), not in moto 5.2.5's
    ``send_to_targets``; no issue found for Lambda targets.
    """
    import moto.events.models as events_models

    original_send = events_models.Rule.send_to_targets
    deliver = p.deliver

    def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
        from moto.utilities.arns import parse_arn

        special = [t for t in rule.targets if parse_arn(t["Arn"]).service in ("lambda", "states")]
        if not special:
            return original_send(rule, original_event, transform_input)
        if not rule.event_pattern.matches_event(original_event):
            return None
        others = [t for t in rule.targets if t not in special]
        if others:
            saved = rule.targets
            rule.targets = others
            try:
                original_send(rule, original_event, transform_input)
            finally:
                rule.targets = saved
        for target in special:
            deliver(
                parse_arn(target["Arn"]).service, target["Arn"], _target_input(target, original_event, transform_input)
            )
        return None

    p.set(events_models.Rule, "send_to_targets", send_to_targets)


@moto_patch()
def sqs_targets_get_the_account(p: MotoPatches) -> None:
    """moto's default input template for a target (``EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE``)
    drops the event's ``account``; EventBridge puts the whole event on an SQS target (Powertools'
    EventBridge model needs ``account``). Replayed events skip the template in moto and keep
    ``replay-name``. No upstream issue found.
    """
    from moto.events.utils import EventTemplateParser

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"version": "0",' not in template:
        raise PatchNoLongerApplies(f"sqs_targets_get_the_account: moto's input template changed: {template}")
    p.set(
        EventTemplateParser,
        "DEFAULT_EVENT_INPUT_TEMPLATE",
        template.replace('"version": "0",', '"version": "0", "account": "<account>",'),
    )


@moto_patch()
def replays_keep_their_window_and_rules(p: MotoPatches) -> None:
    """moto's ``Replay.replay_events`` replays the whole archive to every rule of the bus;
    EventBridge's ``StartReplay`` replays only the events between ``EventStartTime`` and
    ``EventEndTime``, and only to the rules in ``Destination.FilterArns``. No upstream issue found.
    """
    import moto.events.models as events_models

    def replay_events(replay: Any, archive: Any) -> None:
        from moto.core.utils import unix_time

        backend = events_models.events_backends[replay.account_id][replay.region]
        bus = backend.describe_event_bus(replay.destination["Arn"].split("/")[-1])
        only = set(replay.destination.get("FilterArns") or [])
        start, end = _epoch(replay.event_start_time), _epoch(replay.event_end_time)
        for event in list(archive.events):
            at = _epoch(event.get("time"))
            if start is not None and at is not None and not start <= at <= end:
                continue
            for rule in [r for r in list(bus.rules.values()) if not only or r.arn in only]:
                _replay_to(rule, event, replay.name)
        replay.state = events_models.ReplayState.COMPLETED
        replay.end_time = unix_time()

    p.set(events_models.Replay, "replay_events", replay_events)


def _replay_to(rule: Any, event: dict, replay_name: str) -> None:
    from moto.moto_api._internal import mock_random

    rule.send_to_targets(
        dict(event, **{"id": str(mock_random.uuid4()), "replay-name": replay_name}), transform_input=False
    )


# --- Step Functions ---------------------------------------------------------------------------


@moto_patch()
def put_events_task_errors_are_task_failures(p: MotoPatches) -> None:
    """moto ends the execution with ``States.Runtime`` (which no Retry or Catch matches) when the
    PutEvents call of an ``events:putEvents`` task fails (``StateTaskServiceEvents._from_error``
    handles only a failed entry); Step Functions fails the task with ``EventBridge.<ErrorCode>``
    ("ServiceName.ErrorName", Exception suffix added), which ``States.TaskFailed`` matches. No
    upstream issue found.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_events as events_task,
    )

    original = events_task.StateTaskServiceEvents._from_error

    def _from_error(task: Any, env: Any, ex: Exception) -> Any:
        from botocore.exceptions import ClientError

        if not isinstance(ex, ClientError):
            return original(task, env, ex)
        return _events_task_failure(task, env, ex)

    p.set(events_task.StateTaskServiceEvents, "_from_error", _from_error)


def _events_task_failure(task: Any, env: Any, ex: Any) -> Any:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    code = ex.response.get("Error", {}).get("Code") or "EventBridge"
    name = f"EventBridge.{code if code.endswith('Exception') else code + 'Exception'}"
    details = TaskFailedEventDetails(
        error=name,
        cause=ex.response.get("Error", {}).get("Message", str(ex)),
        resource=task._get_sfn_resource(),
        resourceType=task._get_sfn_resource_type(),
    )
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(name),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=details),
    )


@moto_patch()
def state_machines_call_with_their_role(p: MotoPatches) -> None:
    """Step Functions: every service integration called AWS with one fixed access key (moto's
    ``boto_client_for`` uses ``ak`` for all), whatever the state machine; on AWS each execution
    calls with its own execution role. The key now names the role (``ak:<role name>``), so the
    embedded stack's IAM check knows which state machine calls. No upstream issue found.
    """
    import sys

    import moto.stepfunctions.parser.asl.parse.asl_parser  # noqa: F401 - loads every task module
    from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module

    original = boto_client_module.boto_client_for
    made: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # One client per (region, service, role), not one per task as moto makes: a client costs
        # tens of milliseconds to make, and its calls are thread-safe.
        role_arn = getattr(state_credentials, "role_arn", None)
        with lock:
            if (region, service, role_arn) not in made:
                client = original(region=region, service=service, state_credentials=state_credentials)
                if role_arn:
                    role_name = role_arn.rsplit("/", 1)[-1]
                    client._request_signer._credentials.access_key = f"{STATES_ACCESS_KEY}:{role_name}"
                made[region, service, role_arn] = client
            return made[region, service, role_arn]

    # every task module bound the function by name at import
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
            p.set(module, "boto_client_for", boto_client_for)


@moto_patch()
def task_parameters_named_as_the_api(p: MotoPatches) -> None:
    """Step Functions: a task's ``Parameters`` name the API's members as AWS documents them
    (``Input``, ``StateMachineArn``, ``TaskToken``...) and AWS maps them onto the API, whose members
    may be camelCase; moto 5.2's ``_normalise_parameters`` passed them to botocore as written, so
    ``states:startExecution`` and ``aws-sdk:sfn:*`` tasks failed with ``States.Runtime``. They are
    renamed to the operation's members, case-insensitively. No upstream issue found.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    original = StateTaskService._normalise_parameters

    def _normalise_parameters(
        task: Any, parameters: dict, boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        original(task, parameters, boto_service_name, service_action_name)
        service = task._get_boto_service_name(boto_service_name)
        action = task._get_boto_service_action(service_action_name)
        members = _operation_members(service, action)
        for key in list(parameters):
            member = members.get(key.lower())
            if member is not None and member != key:
                parameters[member] = parameters.pop(key)

    p.set(StateTaskService, "_normalise_parameters", _normalise_parameters)


@moto_patch()
def task_failures_keep_their_cause(p: MotoPatches) -> None:
    """Step Functions: AWS's SendTaskFailure takes ``error`` and ``cause`` and the task fails with
    both; moto 5.2's API handler (``StepFunctionResponse.send_task_failure``) read only ``error``.
    No upstream issue found.
    """
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(response: Any) -> Any:
        from moto.core.responses import EmptyResult

        response.stepfunction_backend.send_task_failure(
            response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
        )
        return EmptyResult()

    p.set(StepFunctionResponse, "send_task_failure", send_task_failure)


@moto_patch()
def state_machines_parsed_once(p: MotoPatches) -> None:
    """Step Functions: moto parses a state machine's definition with its ANTLR parser at the start
    of every execution (``ExecutionWorker._get_evaluation_entrypoint``), 25 to 130 ms each, three
    executions per merchant-fulfilled order. A definition is parsed once and each execution gets
    its own copy of the parsed program (about 3 ms), so no execution shares state with another. A
    performance patch, not a behaviour difference: no upstream issue found.
    """
    import copy

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def _get_evaluation_entrypoint(worker: Any) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition
        with lock:
            if definition not in parsed:
                if len(parsed) >= 64:  # a stack has a few machines; a long session may update them
                    parsed.clear()
                parsed[definition] = AmazonStateLanguageParser.parse(definition)[0]
            return copy.deepcopy(parsed[definition])

    p.set(ExecutionWorker, "_get_evaluation_entrypoint", _get_evaluation_entrypoint)


@moto_patch()
def json_paths_parsed_once(p: MotoPatches) -> None:
    """EventBridge and Step Functions: moto parses the same JSONPath expressions again for every
    event delivered to a target (``EventTemplateParser.parse``, five paths per event) and every
    state's paths, and jsonpath_ng builds a new yacc parser for each parse: 10% of `simulate`'s
    CPU. A parsed expression is immutable (``find`` reads, ``update`` writes the data), so each
    text is parsed once. A performance patch, not a behaviour difference: no upstream issue found.
    """
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.utils import json_path

    parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
    p.set(jsonpath_ng.ext, "parse", parse)  # moto.events.utils imports it at each call
    p.set(json_path, "parse", parse)


@moto_patch()
def task_callbacks_skip_executions_without_a_worker(p: MotoPatches) -> None:
    """Step Functions: moto 5.2's ``send_task_success``/``send_task_failure`` ask every execution's
    ``exec_worker.env`` for the token, and an execution starting (an Express child just started) or
    ended has none: an ``AttributeError`` instead of AWS's answer (success, ``TaskTimedOut`` or
    ``InvalidToken``). Executions without a worker are skipped. No upstream issue found.
    """
    import moto.stepfunctions.parser.models as m

    def _answer(backend: Any, executions: list[Any], outcome: Any) -> bool:
        for execution in executions:
            env = getattr(getattr(execution, "exec_worker", None), "env", None)
            if env is None:
                continue
            try:
                if env.callback_pool_manager.notify(callback_id=outcome.callback_id, outcome=outcome):
                    return True
            except m.CallbackNotifyConsumerError as consumer_error:
                if isinstance(consumer_error, m.CallbackConsumerTimeout):
                    raise m.TaskTimedOut() from None
                raise m.TaskDoesNotExist() from None
        raise m.InvalidToken()

    def send_task_success(backend: Any, task_token: Any, outcome: str) -> Any:
        running = backend._get_executions(m.ExecutionStatus.RUNNING)
        _answer(backend, running, m.CallbackOutcomeSuccess(callback_id=task_token, output=outcome))

    def send_task_failure(backend: Any, task_token: Any, error: Any = None, cause: Any = None) -> Any:
        failure = m.CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause)
        _answer(backend, backend._get_executions(), failure)
        return m.SendTaskFailureOutput()

    p.set(m.StepFunctionsParserBackend, "send_task_success", send_task_success)
    p.set(m.StepFunctionsParserBackend, "send_task_failure", send_task_failure)


@functools.cache
def _operation_members(service: str, action: str) -> dict[str, str]:
    """Lower-cased member name -> member name of a botocore operation's input (``{}`` if unknown)."""
    import botocore.session
    from botocore import xform_name

    try:
        model = botocore.session.get_session().get_service_model(service)
        operations = {xform_name(op): op for op in model.operation_names}
        shape = model.operation_model(operations[action]).input_shape
    except Exception:  # noqa: BLE001 - an unknown service or action keeps its parameters
        return {}
    return {name.lower(): name for name in (shape.members if shape is not None else {})}


def _simulated(p: MotoPatches) -> bool:
    return p.clock is not None and p.clock.simulated


def _time_scaled_or_simulated(p: MotoPatches) -> bool:
    return p.time_scale != 1.0 or _simulated(p)


def _stack_clock(p: MotoPatches) -> Any:
    from .stack_clock import WallClock

    return p.clock or WallClock()


@moto_patch(only_if=_simulated)
def sqs_on_the_stack_clock(p: MotoPatches) -> None:
    """Only on a simulated clock (stack_clock.py): moto's SQS reads the machine's time for
    visibility timeouts and delays (``moto.sqs.models``' ``unix_time``/``unix_time_millis``, the
    only two names it uses); they read the stack's clock, so a deferred message becomes visible
    when the simulated time reaches it. A hook: no upstream issue.
    """
    import moto.sqs.models as sqs_models

    clock = p.clock
    p.set(sqs_models, "unix_time", lambda dt=None: clock.time() if dt is None else _unix_time(dt))
    p.set(
        sqs_models,
        "unix_time_millis",
        lambda dt=None: clock.time() * 1000.0 if dt is None else _unix_time(dt) * 1000.0,
    )


@moto_patch(only_if=_time_scaled_or_simulated)
def retry_intervals_scaled(p: MotoPatches) -> None:
    """With a time scale or a simulated clock: moto sleeps a Retry's real interval
    (``retrier_decl`` calls ``time.sleep``); the sleep is scaled and parked on the stack's clock.
    A hook: no upstream issue.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    p.set(retrier_decl, "time", _ScaledTime(p.time_scale, _stack_clock(p)))


@moto_patch(only_if=_time_scaled_or_simulated)
def wait_states_scaled(p: MotoPatches) -> None:
    """With a time scale or a simulated clock: moto waits a Wait state's real duration
    (``WaitFunction._wait_interval``); the wait is scaled and parked on the stack's clock.
    A hook: no upstream issue.
    """
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    scale, clock = p.time_scale, _stack_clock(p)

    def _wait_interval(fn: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            clock.park(wait_seconds * scale, interrupt=env.program_state_event)

    p.set(WaitFunction, "_wait_interval", _wait_interval)


class _ScaledTime:
    """``time`` for moto's Retry implementation: ``sleep`` scaled, and parked on the stack's clock."""

    def __init__(self, scale: float, clock: Any):
        self._scale = scale
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.park(seconds * self._scale)

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)


def _unix_time(dt: Any) -> float:
    from moto.core.utils import unix_time

    return unix_time(dt)


def _epoch(value: Any) -> float | None:
    """A moto timestamp (epoch seconds, a datetime or ISO-8601 text) as epoch seconds."""
    from datetime import datetime

    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _target_input(target: dict, original_event: dict, transform_input: bool) -> Any:
    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
    from moto.events.utils import EventTemplateParser

    event = dict(original_event)
    if "time" in event and not isinstance(event["time"], str):
        event["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(float(event["time"])))
    if not transform_input:
        return event
    if target.get("Input"):
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from moto.stepfunctions.parser.asl.utils.json_path import extract_json

        return extract_json(target["InputPath"], event)
    transformer = target.get("InputTransformer")
    if transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return event
