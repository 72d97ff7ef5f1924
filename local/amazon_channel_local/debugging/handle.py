"""`StackHandle`: boto3 clients plus the stack's resource names, wherever the stack runs.

The debugging commands (replay, export, redrive, trace) only talk to a `StackHandle`, so the same
code serves three stacks:

- a deployed stack (`--stack NAME`): resources from CloudFormation (`ListStackResources`,
  `DescribeStacks` outputs), clients from the default boto3 session (or `--profile`/`--region`);
- a local stack served on an endpoint (`--endpoint URL`, what `amazon-channel local up` prints):
  the same CloudFormation calls against that endpoint (the local stack is created from
  template.yaml by moto's CloudFormation), fake credentials unless real ones are set; waiting
  for the handlers uses its control API (`POST /_local/settle`) when it has one;
- an embedded stack in this process (`from_local_stack`, tests and `simulate --replay`): its
  clients and resources directly, and its `settle()` to wait for the handlers.

Without --stack/--endpoint, `AMAZON_CHANNEL_ENDPOINT` then `AMAZON_CHANNEL_STACK` are used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInput, StackUnreachable, explain_aws_error

LOCAL_STACK_NAME = "amazon-channel-local"
_FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class StackHandle:
    label: str  # for messages: "stack prod-channel (eu-west-1)", "endpoint http://127.0.0.1:5000 ..."
    kind: str  # aws | endpoint | embedded
    region: str
    stack_name: str
    resources: dict[str, str]  # logical id -> physical id
    resource_types: dict[str, str]  # logical id -> CloudFormation type
    outputs: dict[str, str]
    make_client: Callable[[str], Any]
    settle: Callable[[], None] | None = None  # run the handlers until quiet (embedded, local up)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.make_client(service)
        return self._clients[service]

    def need(self, logical_id: str) -> str:
        """The physical id of a resource the command needs; a one-line error when it is missing."""
        physical = self.resources.get(logical_id)
        if not physical:
            raise InvalidInput(f"{self.label} has no {logical_id}: is it an Amazon channel stack?")
        return physical

    def of_type(self, resource_type: str) -> dict[str, str]:
        return {
            lid: pid for lid, pid in self.resources.items() if self.resource_types.get(lid) == resource_type and pid
        }


# -- building one -------------------------------------------------------------------------------
def from_local_stack(stack: Any) -> StackHandle:
    """An embedded `LocalStack` (or a `Player`'s) in this process."""
    return StackHandle(
        label=f"embedded stack {stack.stack_name}",
        kind="embedded",
        region=stack.region,
        stack_name=stack.stack_name,
        resources=dict(stack.resources),
        resource_types=dict(stack.resource_types),
        outputs=dict(stack.outputs),
        make_client=stack.client,
        settle=stack.settle,
    )


def from_cloudformation(stack_name: str, *, region: str | None = None, profile: str | None = None) -> StackHandle:
    """A deployed stack, found through CloudFormation with the default (or named) AWS profile."""
    import boto3

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except Exception as e:  # noqa: BLE001 - ProfileNotFound and friends
        raise StackUnreachable(f"AWS profile: {e}") from None
    label = f"stack {stack_name} ({session.region_name or 'no region'})"
    return _described(session, None, stack_name, label, "aws")


def from_endpoint(url: str, *, stack_name: str | None = None, region: str | None = None) -> StackHandle:
    """A local stack served at `url` (a moto server endpoint), found through its CloudFormation."""
    import boto3

    session = boto3.session.Session(
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    if session.get_credentials() is None:
        session = boto3.session.Session(region_name=session.region_name, **_FAKE_CREDENTIALS)
    if stack_name is None:
        stack_name = _only_stack(session, url)
    handle = _described(session, url, stack_name, f"stack {stack_name} at {url}", "endpoint")
    handle.settle = _control_settle(url)
    return handle


class SettleUnavailable(Exception):
    """The endpoint has no control API to settle with (a plain moto server): poll the queues instead."""


def _control_settle(url: str, timeout: float = 120) -> Callable[[], None]:
    """`POST <endpoint>/_local/settle`: `amazon-channel local up` runs its handlers until quiet."""

    def settle() -> None:
        import json as _json
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the stack's loopback URL
            url.rstrip("/") + "/_local/settle",
            method="POST",
            data=_json.dumps({"timeout": timeout}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout + 10) as answer:  # noqa: S310 - loopback
                if answer.status != 200:
                    raise SettleUnavailable(f"settle answered {answer.status}")
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise SettleUnavailable(str(e)) from None

    return settle


def from_arguments(
    stack: str | None, endpoint: str | None, region: str | None = None, profile: str | None = None
) -> StackHandle:
    """The handle for `--stack NAME` / `--endpoint URL` (with the environment's defaults)."""
    endpoint = endpoint or (None if stack else os.environ.get("AMAZON_CHANNEL_ENDPOINT"))
    stack = stack or (None if endpoint else os.environ.get("AMAZON_CHANNEL_STACK"))
    if endpoint:
        return from_endpoint(endpoint, stack_name=stack, region=region)
    if stack:
        return from_cloudformation(stack, region=region, profile=profile)
    raise InvalidInput(
        "which stack? give --stack NAME (deployed) or --endpoint URL (amazon-channel local up), "
        "or set AMAZON_CHANNEL_STACK / AMAZON_CHANNEL_ENDPOINT"
    )


def _client_factory(session: Any, endpoint: str | None) -> Callable[[str], Any]:
    from botocore.config import Config

    # a local endpoint answers at once or not at all: do not retry for a minute
    config = (
        Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        if endpoint
        else None
    )

    def make(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint, config=config)

    return make


def _only_stack(session: Any, url: str) -> str:
    cfn = _client_factory(session, url)("cloudformation")
    try:
        stacks = [
            s["StackName"]
            for s in cfn.describe_stacks().get("Stacks", [])
            if not s.get("StackStatus", "").startswith("DELETE")
        ]
    except Exception as e:  # noqa: BLE001
        raise (explain_aws_error(e, f"endpoint {url}") or StackUnreachable(f"endpoint {url}: {e}")) from None
    if len(stacks) == 1:
        return stacks[0]
    if LOCAL_STACK_NAME in stacks:
        return LOCAL_STACK_NAME
    if not stacks:
        raise StackUnreachable(f"endpoint {url} has no stack: is `amazon-channel local up` running there?")
    raise InvalidInput(f"endpoint {url} has several stacks ({', '.join(sorted(stacks))}): name one with --stack")


def _described(session: Any, endpoint: str | None, stack_name: str, label: str, kind: str) -> StackHandle:
    make = _client_factory(session, endpoint)
    cfn = make("cloudformation")
    resources: dict[str, str] = {}
    types: dict[str, str] = {}
    try:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for r in page.get("StackResourceSummaries", []):
                resources[r["LogicalResourceId"]] = r.get("PhysicalResourceId") or ""
                types[r["LogicalResourceId"]] = r.get("ResourceType", "")
    except Exception as e:  # noqa: BLE001
        error = explain_aws_error(e, label)
        if error is not None and "does not exist" in str(error):
            raise StackUnreachable(f"{label}: no such stack") from None
        raise (error or StackUnreachable(f"{label}: {e}")) from None
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return StackHandle(
        label=label,
        kind=kind,
        region=session.region_name or "us-east-1",
        stack_name=stack_name,
        resources=resources,
        resource_types=types,
        outputs=outputs,
        make_client=make,
    )
