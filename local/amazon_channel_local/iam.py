"""IAM on the embedded stack: each handler's AWS calls are checked against its own role.

moto does not enforce IAM (its opt-in mode checks most actions against resource ``*``), so a
missing grant would only show once deployed. Here every boto3 call made while a function runs
in-process is checked, by IAM action and resource ARN, against the statements of that function's
role as the translated template defines it (inline policies as moto's CloudFormation resolved them,
SAM policy templates expanded; AWS managed policies by their published documents, as moto ships
them). A call the role does not allow fails as AWS fails it: ``ClientError`` with
``AccessDeniedException`` (``AccessDenied`` for SQS) and AWS's message. The product code knows
nothing of this: the check is a botocore ``before-call`` hook installed by the local stack only.

Who is calling:
* a handler running in-process (``acting_as(function)`` around each invocation; a context
  variable, so threads the handler starts with a copy of its context, as the order sync's store
  fan-out does, call with its role too);
* the Lambda service polling a function's SQS event source (``acting_as`` around the poller);
* a state machine's service integrations (``lambda:InvokeFunction``, ``events:PutEvents``,
  ``states:StartExecution``, ``states:SendTask*``): moto makes them with its own boto3 clients, whose
  access key names the execution's role (``ak:<role name>``, see moto_patches).
Calls of the test process itself (setting up, inspecting) are not checked.

Evaluated: Allow/Deny, Action/NotAction, Resource/NotResource, ``*`` and ``?`` wildcards (actions
case-insensitive, ARNs case-sensitive). Not evaluated: ``Condition`` blocks (a statement with a
condition is treated as applying, and the call is marked ``condition_not_evaluated``), policy
variables, resource policies (an identity grant is required here, as it is for same-account calls
to every resource the functions touch), permissions boundaries and SCPs.

Actions per call (AWS docs):
* DynamoDB ``TransactWriteItems``/``TransactGetItems`` are authorised per item: ``PutItem``,
  ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem`` (``GetItem``) on each item's table
  ("Using IAM with DynamoDB transactions"); ``BatchWriteItem``/``BatchGetItem`` on each table;
  ``Query``/``Scan`` on an index use the index's ARN (``table/T/index/I``).
* SQS batch operations need the single action (``SendMessageBatch`` -> ``sqs:SendMessage``).
* ``events:PutEvents`` is checked on each entry's bus.
* ``states:SendTaskSuccess``/``Failure``/``Heartbeat`` carry only a token; as SAM's
  ``StepFunctionsCallbackPolicy`` does, the resource is the state machine that issued it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_principals: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("principals", default=())
_ACTIVE: IamEnforcer | None = None
_INSTALLED = False
_UNIQUE = "amazon-channel-local-iam"
#: access key of the boto3 clients moto's Step Functions uses for service integrations
_STATES_ACCESS_KEY = "ak"  # moto_patches.STATES_ACCESS_KEY: the key of the clients moto's Step Functions makes
#: signing names that are not the IAM service prefix (CloudWatch signs as `monitoring`, its actions are `cloudwatch:`)
_IAM_PREFIX = {"monitoring": "cloudwatch"}


@contextlib.contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """AWS calls made in this context (this thread, and threads run in a copy of its context)
    inside the block are made with ``principal``'s role."""
    token = _principals.set((*_principals.get(), principal))
    try:
        yield
    finally:
        _principals.reset(token)


def current_principal() -> str | None:
    stack = _principals.get()
    return stack[-1] if stack else None


@functools.cache
def _pattern(text: str, ignore_case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@dataclass(frozen=True)
class Grant:
    """One (action, resource) pair an Allow statement grants, with where it comes from."""

    policy: str
    action: str
    resource: str


@dataclass
class Statement:
    policy: str  # inline policy name, or the managed policy's name
    effect: str
    actions: list[str]
    not_actions: list[str]
    resources: list[str]
    not_resources: list[str]
    condition: dict | None

    @classmethod
    def parse(cls, policy: str, s: dict) -> Statement:
        return cls(
            policy=policy,
            effect=s.get("Effect", "Allow"),
            actions=[str(a) for a in _as_list(s.get("Action"))],
            not_actions=[str(a) for a in _as_list(s.get("NotAction"))],
            resources=[str(r) for r in _as_list(s.get("Resource"))],
            not_resources=[str(r) for r in _as_list(s.get("NotResource"))],
            condition=s.get("Condition"),
        )

    def matches_action(self, action: str) -> bool:
        if self.actions:
            return any(_pattern(a, True).match(action) for a in self.actions)
        return not any(_pattern(a, True).match(action) for a in self.not_actions)

    def matches_resource(self, arn: str) -> bool:
        if self.resources:
            return any(_pattern(r, False).match(arn) for r in self.resources)
        return not any(_pattern(r, False).match(arn) for r in self.not_resources)

    def grants(self) -> list[Grant]:
        if self.effect != "Allow":
            return []
        actions = self.actions or [f"NOT {a}" for a in self.not_actions]
        resources = self.resources or [f"NOT {r}" for r in self.not_resources]
        return [Grant(self.policy, a, r) for a in actions for r in resources]

    def matching_grants(self, action: str, arn: str) -> list[Grant]:
        def action_ok(g: Grant) -> bool:
            return (
                self.matches_action(action)
                if g.action.startswith("NOT ")
                else bool(_pattern(g.action, True).match(action))
            )

        def resource_ok(g: Grant) -> bool:
            return (
                self.matches_resource(arn)
                if g.resource.startswith("NOT ")
                else bool(_pattern(g.resource, False).match(arn))
            )

        return [g for g in self.grants() if action_ok(g) and resource_ok(g)]


@dataclass
class Role:
    principal: str  # logical id of the function or state machine
    role_name: str
    session_name: str  # Lambda: the function's name; Step Functions: an opaque id
    account: str
    statements: list[Statement] = field(default_factory=list)
    managed_policies: list[str] = field(default_factory=list)

    @property
    def caller_arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"

    def evaluate(self, action: str, arn: str) -> Decision:
        allowed: list[Grant] = []
        conditional = False
        for s in self.statements:
            if not (s.matches_action(action) and s.matches_resource(arn)):
                continue
            conditional = conditional or bool(s.condition)
            if s.effect == "Deny":
                return Decision(False, explicit_deny=True, condition_not_evaluated=conditional)
            allowed.extend(s.matching_grants(action, arn))
        return Decision(bool(allowed), grants=allowed, condition_not_evaluated=conditional)

    def grants(self) -> list[Grant]:
        out: list[Grant] = []
        for s in self.statements:
            for g in s.grants():
                if g not in out:
                    out.append(g)
        return out


@dataclass
class Decision:
    allowed: bool
    grants: list[Grant] = field(default_factory=list)
    explicit_deny: bool = False
    condition_not_evaluated: bool = False


@dataclass(frozen=True)
class Call:
    principal: str
    operation: str  # e.g. dynamodb.TransactWriteItems
    action: str  # e.g. dynamodb:PutItem
    resource: str
    allowed: bool


_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
_XRAY = [
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
]
#: the AWS managed policies SAM attaches, as AWS publishes them (the same documents moto ships, whose
#: full list costs seconds to load: read only for another policy)
KNOWN_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": {"Statement": [{"Effect": "Allow", "Action": _LOGS, "Resource": "*"}]},
    "AWSLambdaSQSQueueExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS],
                "Resource": "*",
            }
        ]
    },
    "AWSXrayWriteOnlyAccess": {"Statement": [{"Effect": "Allow", "Action": _XRAY, "Resource": ["*"]}]},
    "AWSXRayDaemonWriteAccess": {"Statement": [{"Effect": "Allow", "Action": _XRAY, "Resource": ["*"]}]},
}


@functools.cache
def _aws_managed_policies() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def managed_policy_document(arn: str) -> dict:
    """An AWS managed policy's published document (moto ships AWS's documents)."""
    name = arn.rsplit("/", 1)[-1]
    if name in KNOWN_MANAGED_POLICIES:
        return KNOWN_MANAGED_POLICIES[name]
    data = _aws_managed_policies()
    if name not in data:
        raise KeyError(f"unknown AWS managed policy {arn}")
    return data[name]["Document"]


class IamEnforcer:
    """Checks, records and (unless ``enforce`` is off) denies the calls of the stack's principals."""

    def __init__(self, roles: dict[str, Role], region: str, account: str, resolve: Any = None, enforce: bool = True):
        self.roles = roles
        self.region = region
        self.account = account
        self.enforce = enforce
        self.calls: list[Call] = []
        self.used: dict[str, set[Grant]] = {p: set() for p in roles}
        self.conditions_not_evaluated: set[tuple[str, str]] = set()
        self._resolve = resolve or {}  # hooks: "secret" -> fn(id)->arn, "state_machine" -> fn(token)->arn
        self._lock = threading.Lock()

    # -- install -----------------------------------------------------------------------------
    def install(self) -> None:
        global _ACTIVE, _INSTALLED  # noqa: PLW0603 - botocore's handlers are process-wide: one active enforcer
        import boto3
        from botocore.handlers import BUILTIN_HANDLERS

        if not _INSTALLED:
            # every botocore session made from now on registers the hooks (as moto's own stubber does)
            BUILTIN_HANDLERS.append(("before-parameter-build", _keep_params))
            BUILTIN_HANDLERS.append(("before-call", _before_call))
            _INSTALLED = True
        if boto3.DEFAULT_SESSION is not None:  # made before: register on it too (once)
            events = boto3.DEFAULT_SESSION._session
            events.register("before-parameter-build", _keep_params, unique_id=_UNIQUE + "-params")
            events.register("before-call", _before_call, unique_id=_UNIQUE)
        _ACTIVE = self

    def uninstall(self) -> None:
        global _ACTIVE  # noqa: PLW0603 - see install()
        if _ACTIVE is self:
            _ACTIVE = None

    # -- the check ---------------------------------------------------------------------------
    def principal_for(self, request_signer: Any) -> str | None:
        principal = current_principal()
        if principal is not None:
            return principal
        key = getattr(getattr(request_signer, "_credentials", None), "access_key", None) or ""
        if key != _STATES_ACCESS_KEY and not key.startswith(_STATES_ACCESS_KEY + ":"):
            return None
        machines = [p for p, r in self.roles.items() if r.session_name.startswith("states:")]
        role_name = key.partition(":")[2]
        if role_name:  # the execution's role (moto_patches: one key per role)
            machines = [p for p in machines if self.roles[p].role_name == role_name]
        return machines[0] if len(machines) == 1 else None

    def check(self, principal: str, service: str, operation: str, params: dict) -> tuple[str, str, Decision] | None:
        """Record the call; the first (action, resource) the role does not allow, else None."""
        role = self.roles.get(principal)
        if role is None:
            return None
        denied = None
        for action, arn in self.requests(service, operation, params):
            d = role.evaluate(action, arn)
            with self._lock:
                self.calls.append(Call(principal, f"{service}.{operation}", action, arn, d.allowed))
                self.used[principal].update(d.grants)
                if d.condition_not_evaluated:
                    self.conditions_not_evaluated.add((principal, action))
            if not d.allowed and denied is None:
                denied = (action, arn, d)
        return denied if self.enforce else None

    def denial(self, principal: str, service: str, action: str, arn: str, decision: Decision) -> tuple[Any, dict]:
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        role = self.roles[principal]
        shown = action.lower() if service == "sqs" else action  # SQS writes the action in lower case
        why = (
            "with an explicit deny in an identity-based policy"
            if decision.explicit_deny
            else f"because no identity-based policy allows the {shown} action"
        )
        message = f"User: {role.caller_arn} is not authorized to perform: {shown} on resource: {arn} {why}"
        if service == "sqs":
            code, status = "AccessDenied", 403
        elif service == "lambda":
            code, status = "AccessDeniedException", 403
        else:
            code, status = "AccessDeniedException", 400
        parsed = {
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        }
        http = AWSResponse(url="", status_code=status, headers=HTTPHeaders(), raw=None)
        return http, parsed

    # -- (action, resource) of each call ------------------------------------------------------
    def _arn(self, service: str, rest: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{rest}"

    def requests(self, service: str, operation: str, params: dict) -> list[tuple[str, str]]:
        fn = getattr(self, f"_{service}", None)
        if fn is not None:
            out = fn(operation, params)
            if out is not None:
                return out
        return [(f"{service}:{operation}", "*")]

    def _dynamodb(self, op: str, p: dict) -> list[tuple[str, str]] | None:
        table = lambda name: name if name.startswith("arn:") else self._arn("dynamodb", f"table/{name}")  # noqa: E731
        if op in ("TransactWriteItems", "TransactGetItems"):
            names = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
                "Get": "GetItem",
            }
            out = []
            for item in p.get("TransactItems", []):
                for kind, body in item.items():
                    pair = (f"dynamodb:{names[kind]}", table(body["TableName"]))
                    if pair not in out:
                        out.append(pair)
            return out
        if op in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{op}", table(t)) for t in p.get("RequestItems", {})]
        if "TableName" in p:
            arn = table(p["TableName"])
            if op in ("Query", "Scan") and p.get("IndexName"):
                arn += f"/index/{p['IndexName']}"
            return [(f"dynamodb:{op}", arn)]
        return None

    def _sqs(self, op: str, p: dict) -> list[tuple[str, str]] | None:
        action = op[: -len("Batch")] if op.endswith("Batch") else op
        if "QueueUrl" in p:
            name = p["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
            return [(f"sqs:{action}", self._arn("sqs", name))]
        if "QueueName" in p:
            return [(f"sqs:{action}", self._arn("sqs", p["QueueName"]))]
        return None

    def _events(self, op: str, p: dict) -> list[tuple[str, str]] | None:
        if op != "PutEvents":
            return None
        out = []
        for entry in p.get("Entries", []):
            bus = entry.get("EventBusName") or "default"
            pair = ("events:PutEvents", bus if bus.startswith("arn:") else self._arn("events", f"event-bus/{bus}"))
            if pair not in out:
                out.append(pair)
        return out

    def _states(self, op: str, p: dict) -> list[tuple[str, str]] | None:
        if op.startswith("SendTask"):
            find = self._resolve.get("state_machine")
            return [(f"states:{op}", (find and find(p.get("taskToken", ""))) or "*")]
        for key in ("stateMachineArn", "executionArn"):
            if key in p:
                return [(f"states:{op}", p[key])]
        return None

    def _secretsmanager(self, op: str, p: dict) -> list[tuple[str, str]] | None:
        if "SecretId" not in p:
            return None
        find = self._resolve.get("secret")
        return [(f"secretsmanager:{op}", (find and find(p["SecretId"])) or p["SecretId"])]

    def _lambda(self, op: str, p: dict) -> list[tuple[str, str]] | None:
        if "FunctionName" not in p:
            return None
        name = p["FunctionName"]
        arn = name if name.startswith("arn:") else self._arn("lambda", f"function:{name}")
        if p.get("Qualifier") and arn.count(":") == 6:
            arn += f":{p['Qualifier']}"
        action = "lambda:InvokeFunction" if op in ("Invoke", "InvokeAsync") else f"lambda:{op}"
        return [(action, arn)]

    # -- reading --------------------------------------------------------------------------------
    def missing(self) -> list[Call]:
        return sorted({c for c in self.calls if not c.allowed}, key=lambda c: (c.principal, c.action, c.resource))

    def unused(self) -> dict[str, list[Grant]]:
        out = {}
        for principal, role in self.roles.items():
            left = [g for g in role.grants() if g not in self.used[principal]]
            if left:
                out[principal] = left
        return out

    def record(self) -> dict[str, list[tuple[str, str]]]:
        """principal -> sorted distinct (action, resource) of its calls."""
        out: dict[str, set] = {}
        for c in self.calls:
            out.setdefault(c.principal, set()).add((c.action, c.resource))
        return {p: sorted(v) for p, v in sorted(out.items())}


def _keep_params(params: dict, context: dict, **_: Any) -> None:
    if _ACTIVE is not None:
        context["amazon_channel_iam_params"] = params


def _before_call(model: Any, params: Any, request_signer: Any = None, context: dict | None = None, **_: Any) -> Any:
    enforcer = _ACTIVE
    if enforcer is None:
        return None
    principal = enforcer.principal_for(request_signer)
    if principal is None:
        return None
    # the IAM service prefix: the signing name, but for the services whose endpoint name differs
    service = _IAM_PREFIX.get(model.service_model.signing_name, model.service_model.signing_name)
    api_params = (context or {}).get("amazon_channel_iam_params") or {}
    denied = enforcer.check(principal, service, model.name, api_params)
    if denied is None:
        return None
    action, arn, decision = denied
    return enforcer.denial(principal, service, action, arn, decision)


def roles_of_stack(stack: Any) -> dict[str, Role]:
    """Each function's and state machine's role, read from the created stack and its template."""
    from moto.awslambda.utils import get_backend as lambda_backend
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.stepfunctions.responses import get_backend as sfn_backend

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    cfn_resources = stack.template.cfn.get("Resources", {})
    role_logical = {
        phys: lid for lid, phys in stack.resources.items() if stack.resource_types.get(lid) == "AWS::IAM::Role"
    }
    principals: dict[str, tuple[str, str]] = {}  # logical id -> (role arn, session name)
    for lid, phys in stack.resources.items():
        rtype = stack.resource_types.get(lid)
        if rtype == "AWS::Lambda::Function":
            fn = lambda_backend(DEFAULT_ACCOUNT_ID, stack.region).get_function(phys)
            principals[lid] = (fn.role, fn.function_name)
        elif rtype == "AWS::StepFunctions::StateMachine":
            sm = sfn_backend(DEFAULT_ACCOUNT_ID, stack.region).describe_state_machine(phys)
            principals[lid] = (sm.roleArn, f"states:{lid}")
    roles: dict[str, Role] = {}
    for lid, (role_arn, session) in principals.items():
        if lid not in cfn_resources:
            continue  # a SAM alias of a renamed resource
        name = role_arn.rsplit("/", 1)[-1]
        role = Role(lid, name, session, DEFAULT_ACCOUNT_ID)
        moto_role = iam.get_role(name)
        for policy_name, stored in moto_role.policies.items():
            doc = json.loads(stored) if isinstance(stored, str) else stored
            role.statements += [Statement.parse(policy_name, s) for s in _as_list(doc.get("Statement"))]
        props = cfn_resources.get(role_logical.get(name, ""), {}).get("Properties", {})
        for given in props.get("ManagedPolicyArns", []):
            arn = given if isinstance(given, str) else json.dumps(given)
            policy = arn.rsplit("/", 1)[-1].strip('"}')
            role.managed_policies.append(policy)
            doc = managed_policy_document(policy)
            role.statements += [Statement.parse(policy, s) for s in _as_list(doc.get("Statement"))]
        roles[lid] = role
    return roles
