"""Patches to moto 5.2.x, applied only while a LocalStack runs (``MotoPatches`` undoes them).

* Lambda: every invoke (API, Step Functions ``lambda:invoke`` / ``.waitForTaskToken`` tasks on
  moto's background thread, ...) goes to ``dispatch(fn_model, event) -> (payload, errored, logs)``
  instead of Docker or the echoing "simple" backend.
* CloudFormation: ``Ref`` of an ``AWS::Events::EventBus`` / ``AWS::Events::Archive`` gave the model
  object instead of its name, and of an ``AWS::Lambda::LayerVersion`` the object instead of its ARN;
  state machines created by CloudFormation landed in the Step Functions backend that the API does
  not use when ``execute_state_machine`` is on.
* CloudFormation: resource types moto's CloudFormation lacks but its APIs support are created
  through the backends (``cfn_models.EXTRA_MODELS``: Secrets Manager secrets, SQS queue policies).
* EventBridge: rules with Lambda or Step Functions targets made ``put_events`` raise
  ``NotImplementedError``; such targets are handed to ``deliver(kind, target_arn, event)``.
* EventBridge: ``StartReplay`` ignored the time window and ``Destination.FilterArns``.
* Step Functions: a PutEvents call that failed in an ``events:putEvents`` task ended the execution
  with ``States.Runtime`` (which no Retry or Catch matches); as on AWS it fails the task with
  ``EventBridge.<ErrorCode>`` ("ServiceName.ErrorName", Exception suffix added), which
  ``States.TaskFailed`` matches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any


class MotoPatches:
    def __init__(
        self,
        dispatch: Callable[[Any, Any], tuple[str, bool, str]],
        deliver: Callable[[str, str, dict], None],
        time_scale: float = 1.0,
    ):
        self._time_scale = time_scale
        self._dispatch = dispatch
        self._deliver = deliver
        self._undo: list[tuple[Any, str, Any, bool]] = []

    def _set(self, owner: Any, name: str, value: Any) -> None:
        had = name in owner.__dict__
        self._undo.append((owner, name, owner.__dict__.get(name), had))
        setattr(owner, name, value)

    def apply(self) -> None:
        import moto.awslambda.models as lambda_models
        import moto.awslambda_simple.models as lambda_simple
        import moto.events.models as events_models
        import moto.stepfunctions.models as sfn_models

        dispatch = self._dispatch
        deliver = self._deliver

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return dispatch(fn, event)

        self._set(lambda_models.LambdaFunction, "_invoke_lambda", _invoke_lambda)
        # the no-Docker backend never reaches LambdaFunction.invoke: route it like the real one
        self._set(lambda_simple.LambdaSimpleBackend, "invoke", lambda_models.LambdaBackend.invoke)

        original_fn_from_cfn = lambda_models.LambdaFunction.create_from_cloudformation_json.__func__

        def fn_from_cfn(
            cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            fn = original_fn_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            layers = cloudformation_json["Properties"].get("Layers")
            if layers:  # moto's CloudFormation drops a function's Layers
                fn.layers = fn._get_layers_data(layers)
            return fn

        self._set(lambda_models.LambdaFunction, "create_from_cloudformation_json", classmethod(fn_from_cfn))

        self._set(events_models.EventBus, "physical_resource_id", property(lambda self: self.name))
        self._set(events_models.Archive, "physical_resource_id", property(lambda self: self.name))
        self._set(lambda_models.LayerVersion, "physical_resource_id", property(lambda self: self.arn))

        def sm_from_cfn(
            cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            from moto.stepfunctions.responses import get_backend

            properties = cloudformation_json["Properties"]
            backend = get_backend(account_id, region_name)
            return backend.create_state_machine(
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

        self._set(sfn_models.StateMachine, "create_from_cloudformation_json", classmethod(sm_from_cfn))
        self._set(sfn_models.StateMachine, "delete_from_cloudformation_json", classmethod(sm_delete_cfn))

        import moto.cloudformation.parsing as cfn_parsing

        from .cfn_models import EXTRA_MODELS

        original_class_from_type = cfn_parsing.resource_class_from_type

        def resource_class_from_type(resource_type: str) -> Any:
            if resource_type in EXTRA_MODELS:
                return EXTRA_MODELS[resource_type]
            return original_class_from_type(resource_type)

        self._set(cfn_parsing, "resource_class_from_type", resource_class_from_type)

        original_send = events_models.Rule.send_to_targets

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
                event = _target_input(target, original_event, transform_input)
                deliver(parse_arn(target["Arn"]).service, target["Arn"], event)
            return None

        self._set(events_models.Rule, "send_to_targets", send_to_targets)

        # EventBridge puts the whole event on an SQS target, `account` and `replay-name` included;
        # moto's default input template drops `account` (Powertools' EventBridge model needs it).
        # Replayed events skip the template in moto and keep `replay-name`.
        from moto.events.utils import EventTemplateParser

        self._set(
            EventTemplateParser,
            "DEFAULT_EVENT_INPUT_TEMPLATE",
            EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
                '"version": "0",', '"version": "0", "account": "<account>",'
            ),
        )

        # StartReplay: moto replays the whole archive to every rule of the bus; EventBridge replays
        # only the events of the time window, and only to the rules in Destination.FilterArns.
        def replay_events(replay: Any, archive: Any) -> None:
            from moto.core.utils import unix_time
            from moto.moto_api._internal import mock_random

            backend = events_models.events_backends[replay.account_id][replay.region]
            bus = backend.describe_event_bus(replay.destination["Arn"].split("/")[-1])
            only = set(replay.destination.get("FilterArns") or [])
            start, end = _epoch(replay.event_start_time), _epoch(replay.event_end_time)
            for event in list(archive.events):
                at = _epoch(event.get("time"))
                if start is not None and at is not None and not start <= at <= end:
                    continue
                for rule in list(bus.rules.values()):
                    if only and rule.arn not in only:
                        continue
                    rule.send_to_targets(
                        dict(event, **{"id": str(mock_random.uuid4()), "replay-name": replay.name}),
                        transform_input=False,
                    )
            replay.state = events_models.ReplayState.COMPLETED
            replay.end_time = unix_time()

        self._set(events_models.Replay, "replay_events", replay_events)

        self._set_events_task_errors()

        if self._time_scale != 1.0:
            from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
            from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

            scale = self._time_scale
            self._set(retrier_decl, "time", _ScaledTime(scale))

            def _wait_interval(fn: Any, env: Any, wait_seconds: int) -> None:
                if wait_seconds > 0:
                    env.program_state_event.wait(wait_seconds * scale)

            self._set(WaitFunction, "_wait_interval", _wait_interval)

    def _set_events_task_errors(self) -> None:
        from botocore.exceptions import ClientError
        from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
        from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_events as events_task,
        )
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

        original = events_task.StateTaskServiceEvents._from_error

        def _from_error(task: Any, env: Any, ex: Exception) -> Any:
            if not isinstance(ex, ClientError):
                return original(task, env, ex)
            code = ex.response.get("Error", {}).get("Code") or "EventBridge"
            name = f"EventBridge.{code if code.endswith('Exception') else code + 'Exception'}"
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(name),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=name,
                        cause=ex.response.get("Error", {}).get("Message", str(ex)),
                        resource=task._get_sfn_resource(),
                        resourceType=task._get_sfn_resource_type(),
                    )
                ),
            )

        self._set(events_task.StateTaskServiceEvents, "_from_error", _from_error)

    def wrap_botocore_send(self, wrap: Callable[[Any], Any]) -> None:
        """Put `wrap(send)` in front of moto's botocore hook (every mocked AWS call), e.g. faults."""
        from moto.core.botocore_stubber import BotocoreStubber

        self._set(BotocoreStubber, "__call__", wrap(BotocoreStubber.__call__))

    def undo(self) -> None:
        while self._undo:
            owner, name, value, had = self._undo.pop()
            if had:
                setattr(owner, name, value)
            else:
                delattr(owner, name)


class _ScaledTime:
    """``time`` for moto's Retry implementation, with ``sleep`` scaled."""

    def __init__(self, scale: float):
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds * self._scale)

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)


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
