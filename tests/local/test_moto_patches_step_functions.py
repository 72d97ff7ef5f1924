"""The embedded stack's patches to moto's Step Functions for nested workflows (moto_patches.py)."""

from __future__ import annotations

import pytest

from amazon_channel_local.moto_patches import MotoPatches


@pytest.fixture
def patched():
    patches = MotoPatches(dispatch=lambda fn, event: ("null", False, ""), deliver=lambda *a: None)
    patches.apply()
    yield
    patches.undo()


class _Task:
    """The parts of a moto task state the parameter normalisation asks for."""

    def __init__(self, service: str, action: str):
        self._service, self._action = service, action

    def _get_boto_service_name(self, name: str | None = None) -> str:
        return name or self._service

    def _get_boto_service_action(self, action: str | None = None) -> str:
        return action or self._action


def _normalised(service: str, action: str, parameters: dict) -> dict:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    parameters = dict(parameters)
    StateTaskService._normalise_parameters(_Task(service, action), parameters)  # type: ignore[arg-type]  # a stand-in task
    return parameters


def test_a_workflow_starts_its_child_with_the_parameters_aws_documents(patched):
    # Given the parameters of a states:startExecution task as AWS's examples write them
    given = {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child", "Input": "{}", "Name": "n"}
    # Then the Step Functions API receives them under its own member names
    assert _normalised("stepfunctions", "start_execution", given) == {
        "stateMachineArn": given["StateMachineArn"],
        "input": "{}",
        "name": "n",
    }
    # and a child answers its parent's task token the same way (aws-sdk:sfn:sendTaskFailure)
    answer = {"TaskToken": "t", "Error": "MoreToShip", "Cause": "c"}
    assert _normalised("stepfunctions", "send_task_failure", answer) == {
        "taskToken": "t",
        "error": "MoreToShip",
        "cause": "c",
    }


def test_apis_whose_members_are_already_pascal_case_are_left_alone(patched):
    entries = {"Entries": [{"Source": "amazon-channel", "DetailType": "OrderShipped", "Detail": "{}"}]}
    assert _normalised("events", "put_events", entries) == entries
    assert _normalised("lambda", "invoke", {"FunctionName": "f", "Payload": "{}"}) == {
        "FunctionName": "f",
        "Payload": "{}",
    }
    assert _normalised("nosuchservice", "nosuchaction", {"X": 1}) == {"X": 1}


def test_each_state_machine_calls_aws_with_its_own_role(patched):
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials

    role = StateCredentials(role_arn="arn:aws:iam::123456789012:role/stack-MfnOrderImportStateMachineRole-X")
    client = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda", state_credentials=role)
    assert client._request_signer._credentials.access_key == "ak:stack-MfnOrderImportStateMachineRole-X"


def test_the_patches_are_undone():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    patches = MotoPatches(dispatch=lambda fn, event: ("null", False, ""), deliver=lambda *a: None)
    patches.apply()
    patches.undo()
    assert lambda_eval_utils.boto_client_for is boto_client.boto_client_for
    assert _normalised("stepfunctions", "start_execution", {"Input": "{}"}) == {"Input": "{}"}  # moto's own again


def test_a_child_s_failure_reaches_its_parent_with_its_cause(patched):
    """SendTaskFailure's cause (the failed step's message, or the order a child could not announce)."""
    from moto.stepfunctions.responses import StepFunctionResponse

    class Backend:
        def send_task_failure(self, token, error=None, cause=None):
            self.sent = (token, error, cause)

    class Request:
        stepfunction_backend = Backend()

        def _get_param(self, name):
            sent = {"taskToken": "t", "error": "CommerceRejected", "cause": 'Product "MUG-01" cannot be ordered'}
            return sent.get(name)

    request = Request()
    StepFunctionResponse.send_task_failure(request)
    assert request.stepfunction_backend.sent == ("t", "CommerceRejected", 'Product "MUG-01" cannot be ordered')
