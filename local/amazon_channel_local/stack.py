"""The embedded local stack: the project's SAM template and real handlers in ONE process.

moto runs in-process (no Docker, no AWS account, no network). The template is the single
source: it is translated with samtranslator and created with moto's CloudFormation; Lambda
invokes (including Step Functions tasks) run the real handlers in-process; SQS event source
mappings are polled by ``pump()`` / ``settle()`` the way Lambda's poller does.

    with LocalStack() as stack:
        stack.client("sqs").send_message(QueueUrl=stack.queue_url("NotificationsQueue"), MessageBody="...")
        stack.settle()
        print(stack.executions())
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .aws_faults import AwsFaults
from .iam import IamEnforcer, acting_as, roles_of_stack
from .lambda_runtime import HandlerError, LambdaRuntime
from .moto_patches import MotoPatches
from .stack_clock import WallClock
from .template_loader import EventSourceMappingSpec, LoadedTemplate, load_template

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CODE_BUCKET = "local-stack-code"
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}


@dataclass
class _Poller:
    spec: EventSourceMappingSpec
    function_logical_id: str
    function_name: str
    queue_url: str
    queue_arn: str


class LocalStack:
    #: last history event of a RUNNING execution that waits on something outside the stack
    #: (a task token, an activity worker); any other (a Retry interval, a Wait state) is busy
    IDLE_EVENT_TYPES = frozenset({"TaskSubmitted", "ActivityScheduled", "ActivityStarted"})
    #: ... and, while a task waits for a held function, a task that has started
    HELD_TASK_EVENT_TYPES = frozenset({"TaskScheduled", "TaskStarted"})
    _active: LocalStack | None = None

    def __init__(
        self,
        *,
        root: Path | str = REPO_ROOT,
        template: str = "template.yaml",
        region: str = "us-east-1",
        parameter_overrides: dict[str, str] | None = None,
        environment_overrides: dict[str, str] | None = None,
        log_stream: TextIO | None = None,
        stack_name: str = "amazon-channel-local",
        time_scale: float = 1.0,
        enforce_iam: bool = True,
        clock: Any = None,
    ):
        self.root = Path(root).resolve()
        self.template_path = self.root / template
        self.region = region
        self.parameter_overrides = dict(parameter_overrides or {})
        self.environment_overrides = dict(environment_overrides or {})
        self.stack_name = stack_name
        self.time_scale = time_scale  # scales Step Functions Retry intervals and Wait states
        #: the stack's clock (stack_clock.py): the wall clock, or a simulated one that settle() moves
        self.clock = clock or WallClock()
        self._own_log = log_stream is None
        self._log_stream = log_stream
        self.log_path: Path | None = None
        self.resources: dict[str, str] = {}
        self.resource_types: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.notes: list[str] = []  # what could not be emulated (logged too)
        self.template: LoadedTemplate | None = None
        self.runtime: LambdaRuntime | None = None
        self._mock: Any = None
        self._patches: MotoPatches | None = None
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[str, Any] = {}
        self._pollers: list[_Poller] = []
        self._pending: list[tuple[str, str, dict]] = []  # EventBridge lambda/states targets
        self._watched_queues: dict[str, str] = {}  # logical id -> url (event sources)
        self._state_machines: dict[str, str] = {}  # arn -> logical id
        self.start_seconds: float | None = None
        self._log_handler: logging.Handler | None = None
        # functions the stack does not run itself while held (`amazon-channel local up --hold`):
        # their queues are not polled, and a workflow task that invokes one waits for its release
        self.held: set[str] = set()
        self._hold = threading.Condition()
        self._hold_waiters = 0
        self._stopping = False
        self.aws_faults = AwsFaults()  # faults in AWS calls (aws_faults.py), for stories and fault suites
        self._saved_moto_propagate = True
        self._started = False
        #: every function's AWS calls checked against its own role (see iam.py); off: recorded only
        self.enforce_iam = enforce_iam
        self.iam: IamEnforcer | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        if self._started:
            return
        if LocalStack._active is not None:
            # moto's backends and the patches are process-wide: two stacks would share them
            raise RuntimeError(f"a LocalStack ({LocalStack._active.stack_name}) is already running in this process")
        LocalStack._active = self
        t0 = time.perf_counter()
        if self._log_stream is None:
            d = Path(tempfile.mkdtemp(prefix="amazon-channel-local-"))
            self.log_path = d / "handlers.log"
            self._log_stream = open(self.log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        env = {**_FAKE_ENV, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        for k, v in env.items():
            self._saved_env[k] = os.environ.get(k)
            os.environ[k] = v
        # in-process moto must see the calls: no endpoint redirect for the test process itself
        self._saved_env["AWS_ENDPOINT_URL"] = os.environ.pop("AWS_ENDPOINT_URL", None)

        # moto's own logging (unsupported resources, failed executions) goes to the log stream too
        moto_logger = logging.getLogger("moto")
        self._log_handler = logging.StreamHandler(self._log_stream)
        self._log_handler.setFormatter(logging.Formatter("[moto] %(levelname)s %(name)s: %(message)s"))
        self._saved_moto_propagate = moto_logger.propagate
        moto_logger.addHandler(self._log_handler)
        moto_logger.propagate = False

        import moto

        self._mock = moto.mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        )
        self._mock.start()
        try:
            self._create()
        except BaseException:
            self.stop()
            raise
        self._started = True
        self.start_seconds = time.perf_counter() - t0
        log.info("local stack %s started in %.2fs", self.stack_name, self.start_seconds)

    def _create(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._create_stack()

    def _create_stack(self) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=CODE_BUCKET)

        def upload(key: str, data: bytes) -> tuple[str, str]:
            s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=data)
            return CODE_BUCKET, key

        if not self.template_path.exists():
            raise FileNotFoundError(f"template not found: {self.template_path}")
        self.template = tpl = load_template(self.template_path, self.parameter_overrides, upload, self.region)
        for logical_id, rtype in tpl.unsupported.items():
            self.notes.append(f"{logical_id} ({rtype}) is not created: moto's CloudFormation does not support it")

        self.runtime = LambdaRuntime(
            tpl.functions,
            tpl.layer_dirs,
            self.region,
            self.environment_overrides,
            self._log_stream,
            clock=self.clock if self.clock.simulated else None,
        )
        self.runtime.install_layers()
        self._patches = MotoPatches(self._dispatch_moto, self._deliver_later, self.time_scale, self.clock)
        self._patches.apply()
        self._patches.wrap_botocore_send(self.aws_faults.wrap)

        cfn = self.client("cloudformation")
        declared = tpl.cfn.get("Parameters", {})
        params = [
            {"ParameterKey": k, "ParameterValue": str(v)} for k, v in self.parameter_overrides.items() if k in declared
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfn.create_stack(
                StackName=self.stack_name,
                TemplateBody=json.dumps(tpl.cfn),
                Parameters=params,
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
            deadline = time.monotonic() + 60
            while True:
                stack = cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
                status = stack["StackStatus"]
                if status == "CREATE_COMPLETE":
                    break
                if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
                    raise RuntimeError(f"stack {self.stack_name}: {status} {stack.get('StackStatusReason', '')}")
                time.sleep(0.05)
        self.outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        for r in cfn.describe_stack_resources(StackName=self.stack_name)["StackResources"]:
            if r.get("LogicalResourceId"):
                self.resources[r["LogicalResourceId"]] = r.get("PhysicalResourceId", "")
                self.resource_types[r["LogicalResourceId"]] = r.get("ResourceType", "")
        # SAM renames some resources (a LayerVersion gets a hash suffix): alias the SAM id too
        for sam_id in tpl.sam_resource_ids:
            if sam_id not in self.resources:
                matches = [k for k in self.resources if k.startswith(sam_id) and len(k) == len(sam_id) + 10]
                if len(matches) == 1:
                    self.resources[sam_id] = self.resources[matches[0]]
                    self.resource_types[sam_id] = self.resource_types[matches[0]]

        self.runtime.name_to_logical = {
            phys: lid for lid, phys in self.resources.items() if self.resource_types.get(lid) == "AWS::Lambda::Function"
        }
        self._state_machines = {
            phys: lid
            for lid, phys in self.resources.items()
            if self.resource_types.get(lid) == "AWS::StepFunctions::StateMachine"
        }
        self.iam = IamEnforcer(
            roles_of_stack(self),
            self.region,
            self._account(),
            resolve={"secret": self._secret_arn, "state_machine": self._token_state_machine},
            enforce=self.enforce_iam,
        )
        self.iam.install()
        self._setup_pollers()

    @staticmethod
    def _account() -> str:
        from moto.core import DEFAULT_ACCOUNT_ID

        return DEFAULT_ACCOUNT_ID

    def _secret_arn(self, secret_id: str) -> str | None:
        """The ARN of a secret given by name or ARN (IAM checks the full ARN)."""
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[self._account()][self.region]
        with contextlib.suppress(Exception):
            return backend.secrets[secret_id].arn
        return None

    def _token_state_machine(self, token: str) -> str | None:
        """The state machine whose running execution issued a task token (None: no such token)."""
        from moto.stepfunctions.responses import get_backend

        backend = get_backend(self._account(), self.region)
        for sm_arn in self._state_machines:
            for e in backend.describe_state_machine(sm_arn).executions:
                env = e.exec_worker.env if e.exec_worker else None
                if env is not None and env.callback_pool_manager.get(token) is not None:
                    return sm_arn
        return None

    def _setup_pollers(self) -> None:
        assert self.template is not None
        lam = self.client("lambda")
        moto_esms = {m["UUID"]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]}
        sqs = self.client("sqs")
        for spec in self.template.event_source_mappings:
            esm = moto_esms.get(self.resources.get(spec.logical_id, ""))
            if esm is None:
                self.notes.append(f"event source mapping {spec.logical_id} was not created")
                continue
            source_arn = esm["EventSourceArn"]
            if source_arn.split(":")[2] != "sqs":
                self.notes.append(f"event source mapping {spec.logical_id}: only SQS sources are polled ({source_arn})")
                continue
            fn_name = esm["FunctionArn"].split(":")[6]
            fn_logical = self.runtime.name_to_logical.get(fn_name) if self.runtime else None
            if fn_logical is None:
                self.notes.append(f"event source mapping {spec.logical_id}: function {fn_name} is not in the template")
                continue
            url = sqs.get_queue_url(QueueName=source_arn.split(":")[5])["QueueUrl"]
            # Lambda reads the queue's attributes with the function's role when the mapping is made
            with acting_as(fn_logical):
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            if spec.enabled:
                self._pollers.append(_Poller(spec, fn_logical, fn_name, url, source_arn))
        # queues settle() waits on: every queue of the stack that is not a dead-letter queue
        dlq_arns = set()
        queues = {lid: p for lid, p in self.resources.items() if self.resource_types.get(lid) == "AWS::SQS::Queue"}
        arns = {}
        for lid, url in queues.items():
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
            arns[lid] = attrs["QueueArn"]
            if attrs.get("RedrivePolicy"):
                dlq_arns.add(json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"])
        polled = {p.queue_arn for p in self._pollers}
        for lid, url in queues.items():
            if arns[lid] in dlq_arns:
                continue
            if arns[lid] not in polled:
                # nothing consumes it locally (no enabled event source mapping): it only collects messages
                continue
            self._watched_queues[lid] = url

    def stop(self) -> None:
        self._stopping = True
        self.release()
        self.clock.stop()
        if self._patches is not None:
            self._patches.undo()
            self._patches = None
        if self.iam is not None:
            self.iam.uninstall()
        if self.runtime is not None:
            self.runtime.uninstall_layers()
        if self._mock is not None:
            with contextlib.suppress(Exception):
                self._mock.stop()
            self._mock = None
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env.clear()
        self._clients.clear()
        if self._log_handler is not None:
            moto_logger = logging.getLogger("moto")
            moto_logger.removeHandler(self._log_handler)
            moto_logger.propagate = self._saved_moto_propagate
            self._log_handler = None
        if self._own_log and self._log_stream is not None:
            with contextlib.suppress(Exception):
                self._log_stream.close()
        self._started = False
        self._stopping = False
        if LocalStack._active is self:
            LocalStack._active = None

    # -- access ------------------------------------------------------------------------------
    @property
    def invocations(self) -> list[dict]:
        return self.runtime.invocations if self.runtime else []

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def queue_url(self, logical_id: str) -> str:
        return self.resources[logical_id]

    def physical_id(self, logical_id: str) -> str:
        return self.resources[logical_id]

    def _function_model(self, logical_id: str) -> Any:
        from moto.awslambda.utils import get_backend
        from moto.core import DEFAULT_ACCOUNT_ID

        return get_backend(DEFAULT_ACCOUNT_ID, self.region).get_function(self.resources[logical_id])

    def invoke(self, logical_id: str, event: Any, source: str = "invoke") -> Any:
        """Run a function's real handler with ``event``; return its result or raise its exception."""
        assert self.runtime is not None
        event = json.loads(json.dumps(event))  # what Lambda would deliver
        result, error, exc = self.runtime.invoke(logical_id, self._function_model(logical_id), event, source)
        if error is not None:
            if exc is not None:
                raise exc
            raise HandlerError(error)
        return result

    # -- faults -------------------------------------------------------------------------------
    def timeout_next(self, logical_id: str, **kwargs: Any) -> None:
        """The function's next invocation times out (`Sandbox.Timedout`); see `LambdaRuntime.timeout_next`."""
        assert self.runtime is not None
        self.runtime.timeout_next(logical_id, **kwargs)

    # -- holding functions -------------------------------------------------------------------
    def hold(self, *logical_ids: str) -> None:
        """Stop running these functions in-process until released (run them yourself meanwhile)."""
        unknown = [f for f in logical_ids if self.runtime is None or f not in self.runtime.functions]
        if unknown:
            raise KeyError(f"not a function of the stack: {', '.join(unknown)}")
        with self._hold:
            self.held.update(logical_ids)

    def release(self, *logical_ids: str) -> None:
        """Run these functions in-process again (all when none is named); waiting tasks go on."""
        with self._hold:
            if logical_ids:
                self.held.difference_update(logical_ids)
            else:
                self.held.clear()
            self._hold.notify_all()

    def _dispatch_moto(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        assert self.runtime is not None
        logical_id = self.runtime.name_to_logical.get(fn.function_name)
        with self._hold:
            if logical_id in self.held:
                self._hold_waiters += 1
                try:
                    while logical_id in self.held and not self._stopping:
                        self._hold.wait(0.5)
                finally:
                    self._hold_waiters -= 1
                if self._stopping:
                    error = {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": "the local stack stopped",
                        "stackTrace": [],
                    }
                    return json.dumps(error), True, ""
        return self.runtime.dispatch_moto(fn, event)

    # -- event delivery ----------------------------------------------------------------------
    def _deliver_later(self, kind: str, target_arn: str, event: dict) -> None:
        self._pending.append((kind, target_arn, event))

    def _run_pending(self) -> int:
        n = 0
        while self._pending:
            kind, arn, event = self._pending.pop(0)
            n += 1
            if kind == "lambda":
                name = arn.split(":")[6]
                lid = self.runtime.name_to_logical.get(name) if self.runtime else None
                if lid is None:
                    log.warning("EventBridge target %s is not a function of the stack", arn)
                    continue
                with contextlib.suppress(Exception):
                    self.invoke(lid, event, source="events")
            elif kind == "states":
                self.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(event))
        return n

    def pump(self) -> int:
        """One round over every SQS event source mapping (and pending EventBridge targets)."""
        processed = self._run_pending()
        for poller in self._pollers:
            if poller.function_logical_id not in self.held:
                processed += self._poll(poller)
        return processed

    def step(self) -> bool:
        """One round of `settle`: pump, or when nothing was delivered and every actor waits, move a
        simulated clock to the next thing due (a retried message's visibility, a Wait state)."""
        return bool(self.pump()) or self._jump_to_next_event()

    def _poll(self, p: _Poller) -> int:
        if not self._sqs_queue(p.queue_url).approximate_number_of_messages:
            return 0  # an empty receive changes nothing: spare the settle loop its cost
        sqs = self.client("sqs")
        messages: list[dict] = []
        while len(messages) < p.spec.batch_size:
            with acting_as(p.function_logical_id):  # Lambda's poller uses the function's role
                got = self._receive(sqs, p, min(10, p.spec.batch_size - len(messages)))
            if not got:
                break
            messages.extend(got)
        if not messages:
            return 0
        return self._deliver_batch(sqs, p, messages)

    def _receive(self, sqs: Any, p: _Poller, n: int) -> list[dict]:
        return sqs.receive_message(
            QueueUrl=p.queue_url,
            MaxNumberOfMessages=n,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])

    def _deliver_batch(self, sqs: Any, p: _Poller, messages: list[dict]) -> int:
        event = {"Records": [self._record(m, p.queue_arn) for m in messages]}
        assert self.runtime is not None
        result, error, _exc = self.runtime.invoke(
            p.function_logical_id, self._function_model(p.function_logical_id), event, f"sqs:{p.spec.logical_id}"
        )
        by_id = {m["MessageId"]: m for m in messages}
        if error is not None:
            failed = set(by_id)
        elif "ReportBatchItemFailures" in p.spec.function_response_types:
            failed = _batch_item_failures(result, set(by_id))
        else:
            failed = set()
        done = [m for mid, m in by_id.items() if mid not in failed]
        retry = [m for mid, m in by_id.items() if mid in failed]
        for chunk in _chunks(done, 10):
            with acting_as(p.function_logical_id):
                sqs.delete_message_batch(
                    QueueUrl=p.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
                )
        # Lambda leaves a failed message to its visibility timeout. On a simulated clock so does the
        # local stack (settle jumps the clock to it, at no wall cost), so that a retry comes when it
        # would on AWS: after a rate budget refilled, a lease expired. On the wall clock (`local up`)
        # ending it now is the stack's shortcut, not the function role's call.
        for chunk in _chunks(retry if not self.clock.simulated else [], 10):
            sqs.change_message_visibility_batch(
                QueueUrl=p.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )
        return len(messages)

    def _record(self, m: dict, queue_arn: str) -> dict:
        attrs = dict(m.get("Attributes", {}))
        msg_attrs = {}
        for name, a in (m.get("MessageAttributes") or {}).items():
            out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": a.get("DataType")}
            if "StringValue" in a:
                out["stringValue"] = a["StringValue"]
            if "BinaryValue" in a:
                out["binaryValue"] = base64.b64encode(a["BinaryValue"]).decode()
            msg_attrs[name] = out
        record = {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": attrs,
            "messageAttributes": msg_attrs,
            "md5OfBody": m.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": self.region,
        }
        if m.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = m["MD5OfMessageAttributes"]
        return record

    # -- quiescence --------------------------------------------------------------------------
    def _queue_backlog(self) -> dict[str, int]:
        """Messages of each polled queue, visible, in flight or delayed (read from moto's backend:
        through the API, each settle check cost a request per queue)."""
        busy = {}
        held_queues = {p.queue_url for p in self._pollers if p.function_logical_id in self.held}
        for lid, url in self._watched_queues.items():
            if url in held_queues:
                continue  # its function is held: the messages wait for it
            n = len(self._sqs_queue(url)._messages)  # moto 5.2: every message not deleted
            if n:
                busy[lid] = n
        return busy

    def _sqs_queue(self, url: str) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        return sqs_backends[DEFAULT_ACCOUNT_ID][self.region].get_queue(url.rsplit("/", 1)[-1])

    def _running(self) -> dict[str, tuple[int, str]]:
        """RUNNING executions: arn -> (history length, last event type).

        Read from moto's in-process backend: through the API every settle check serialised the
        whole history of every running execution, so settling grew with the square of the orders.
        """
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.stepfunctions.responses import get_backend

        backend = get_backend(DEFAULT_ACCOUNT_ID, self.region)
        out = {}
        for sm_arn in self._state_machines:
            for e in backend.describe_state_machine(sm_arn).executions:
                if str(getattr(e.status, "value", e.status)) != "RUNNING":
                    continue
                out[e.execution_arn] = _history_tip(e)
        return out

    def settle(self, timeout: float = 120, stable_seconds: float = 0.05, interval: float = 0.005) -> None:
        """Pump until quiescent: watched queues empty, nothing in flight, running executions idle
        (each waiting, and nothing changed for `stable_seconds`). Polled every `interval` seconds:
        a workflow's next state starts on its own thread, and each poll that finds nothing to do
        was wall time the scenario waited (at 50 ms, a fifth of `simulate`'s)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        since = 0.0
        while True:
            processed = self.pump()
            backlog = self._queue_backlog()
            in_flight = self.runtime.in_flight if self.runtime else 0
            if processed or backlog or in_flight or self._pending:
                last = None
            else:
                running = self._running()
                if not running:
                    return
                snapshot = (running, len(self.invocations))
                if snapshot != last:
                    last, since = snapshot, time.monotonic()
                idle = self.IDLE_EVENT_TYPES | (self.HELD_TASK_EVENT_TYPES if self._hold_waiters else frozenset())
                waiting = all(last_type in idle for _n, last_type in running.values())
                if waiting and time.monotonic() - since >= stable_seconds:
                    return
            if time.monotonic() > deadline:
                running = self._running()
                raise TimeoutError(
                    f"local stack did not settle in {timeout:.0f}s: queues {backlog or '{}'}, "
                    f"in-flight invocations {in_flight}, pending {len(self._pending)}, "
                    f"running executions {_running_steps(running) or '{}'}"
                )
            if not processed and not self._jump_to_next_event():
                time.sleep(interval)

    def _jump_to_next_event(self) -> bool:
        """On a simulated clock, when every actor waits, move the clock to the earliest thing due:
        a parked workflow (Retry interval, Wait state) or an SQS message's visibility or delay."""
        if not self.clock.simulated or self._pending or (self.runtime and self.runtime.in_flight):
            return False
        busy = [t for _n, t in self._running().values() if t not in self.IDLE_EVENT_TYPES]
        if len(busy) > self.clock.parked:
            return False  # a workflow is between states: it may soon want something sooner
        due = [t for t in (self.clock.next_due(), self._next_message_due()) if t is not None]
        if not due or self._visible_messages():
            return False
        self.clock.advance_to(min(due))
        return True

    def _watched_sqs_queues(self) -> list[Any]:
        held = {p.queue_url for p in self._pollers if p.function_logical_id in self.held}
        return [self._sqs_queue(url) for url in self._watched_queues.values() if url not in held]

    def _visible_messages(self) -> bool:
        return any(q.approximate_number_of_messages for q in self._watched_sqs_queues())

    def _next_message_due(self) -> float | None:
        """When the next invisible or delayed message of a polled queue can be received (clock seconds)."""
        due = []
        for q in self._watched_sqs_queues():
            for m in list(q._messages):  # moto 5.2's list of every message, in flight and delayed too
                if m.delayed:
                    due.append(m.delayed_until / 1000.0)
                elif not m.visible:
                    due.append(m.visible_at / 1000.0)
        # moto's `visible` is strictly after visible_at: a millisecond more
        return min(due) + 0.001 if due else None

    def executions(self, express: bool = False) -> list[dict]:
        """Executions of the stack's state machines, oldest first, each with its ``stateMachine``.

        Express executions only with ``express=True``: AWS's ListExecutions does not list them
        (their record is the state machine's log group); moto keeps them, for tests that follow a
        nested child (``children_of``).
        """
        sfn = self.client("stepfunctions")
        out = []
        for sm_arn, lid in self._state_machines.items():
            if not express and sfn.describe_state_machine(stateMachineArn=sm_arn).get("type") == "EXPRESS":
                continue
            for e in _paginate(sfn, "list_executions", "executions", stateMachineArn=sm_arn):
                d = sfn.describe_execution(executionArn=e["executionArn"])
                d.pop("ResponseMetadata", None)
                d["stateMachine"] = lid
                out.append(d)
        out.sort(key=lambda d: d["startDate"])
        return out

    def children_of(self, execution_arn: str) -> list[dict]:
        """The Express executions a workflow started, oldest first (``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID``)."""
        return [
            e
            for e in self.executions(express=True)
            if json.loads(e.get("input") or "{}").get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID") == execution_arn
        ]

    def history(self, execution_arn: str) -> list[dict]:
        sfn = self.client("stepfunctions")
        return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def _running_steps(running: dict[str, tuple[int, str]]) -> dict[str, str]:
    """Each running execution's name and the type of its last history event."""
    return {arn.rsplit(":", 1)[-1]: last_type for arn, (_n, last_type) in running.items()}


def _history_tip(execution: Any) -> tuple[int, str]:
    """(number of history events, type of the last one) of a moto execution, without copying it."""
    env = execution.exec_worker.env if execution.exec_worker else None
    if env is None:
        return 0, ""
    manager = env.event_manager
    with manager._mutex:
        events = manager._history_event_list
        return len(events), (events[-1]["type"] if events else "")


def _batch_item_failures(result: Any, ids: set[str]) -> set[str]:
    """Lambda's reading of a partial batch response; anything malformed fails the whole batch."""
    if result is None or result == {}:
        return set()
    if not isinstance(result, dict):
        return set()
    items = result.get("batchItemFailures")
    if items is None:
        return set()
    failed = set()
    for item in items:
        mid = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not mid or mid not in ids:
            return set(ids)
        failed.add(mid)
    return failed


def _chunks(items: list, n: int) -> list[list]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def _paginate(client: Any, op: str, key: str, **kwargs: Any) -> list[dict]:
    out: list[dict] = []
    token = None
    while True:
        resp = getattr(client, op)(**kwargs, **({"nextToken": token} if token else {}))
        out.extend(resp.get(key, []))
        token = resp.get("nextToken")
        if not token:
            return out
