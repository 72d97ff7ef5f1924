"""`amazon-channel local up`: the embedded stack, served on loopback until it is stopped.

One process holds:

* the embedded stack (`LocalStack`: moto in-process, built from template.yaml, the real handlers
  run in-process, SQS event source mappings pumped in a loop);
* a moto server endpoint on 127.0.0.1 sharing those in-process backends, so that anything outside
  the process (`sam local invoke` containers, the AWS CLI, boto3) sees the same stack: point
  `AWS_ENDPOINT_URL` at it. Under `/_local/` the same endpoint serves the stack's control API
  (docs/local-control-api.md): scenario steps, holds, settle, inspection, env.json, shutdown;
* the simulated Amazon and Commerce, each with its `/_sim/` control routes.

It prints the endpoints, the resources it created, and a line for every event it handles: each
in-process invocation, each AWS API call that reaches the endpoint from outside, each workflow
execution's status change, each notification and Commerce event the simulators send.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from .orders_page_local import DEMO_PASSWORD
from .player import DEFAULT_SELLER, NOT_YET, NotSupportedYet, Player, simulator_environment
from .scenario import Scenario, ScenarioError, Step, parse

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT, DEFAULT_AMAZON_PORT, DEFAULT_COMMERCE_PORT, DEFAULT_PAGE_PORT = 4566, 4567, 4568, 4569
DEFAULT_RUN_DIR = ".amazon-channel"
STATE_FILE = "local.json"
CONTROL_PREFIX = "/_local"
# The long-running stack's store was connected long before any sample event's purchase date, so
# the sample events in events/ (and orders placed with an earlier purchase_date) are imported.
CONNECTED_AT = "1970-01-01T00:00:00.000000Z"
# Variables sam local invoke must get from the running stack (the template declares them all).
SIMULATOR_VARIABLES = ("SP_API_ENDPOINT", "LWA_TOKEN_URL", "COMMERCE_BASE_URL")


class ControlError(Exception):
    """A control request that cannot be served: `status` and a one-line message."""

    def __init__(self, status: int, message: str, exit_code: int = 1):
        super().__init__(message)
        self.status = status
        self.exit_code = exit_code


class EventLog:
    """The lines `local up` prints, and the recent entries the control API returns."""

    def __init__(self, out: TextIO | None, keep: int = 5000):
        self.out = out
        self._lock = threading.Lock()
        self.requests: deque[dict] = deque(maxlen=keep)  # AWS API calls from outside the process
        self.request_count = 0

    def line(self, kind: str, text: str) -> None:
        if self.out is None:
            return
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        with self._lock, contextlib.suppress(Exception):
            self.out.write(f"{stamp}  {kind:<9} {text}\n")
            self.out.flush()

    def request(self, service: str, operation: str, status: int) -> None:
        with self._lock:
            self.request_count += 1
            self.requests.append(
                {
                    "index": self.request_count,
                    "at": time.time(),
                    "service": service,
                    "operation": operation,
                    "status": status,
                }
            )
        self.line("aws", f"{service}.{operation} {status}")


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aws_call(environ: dict) -> tuple[str, str]:
    """Service and operation of an AWS API request, from its signature and target headers."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service = "?"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    return service, f"{method} {path}"


class LocalServer:
    """The long-running local stack. `start()`, then `wait()` until stopped, then `stop()`."""

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        amazon_port: int = DEFAULT_AMAZON_PORT,
        commerce_port: int = DEFAULT_COMMERCE_PORT,
        page_port: int = DEFAULT_PAGE_PORT,
        scenario: Scenario | None = None,
        hold: tuple[str, ...] | list[str] = (),
        out: TextIO | None = None,
        log_stream: TextIO | None = None,
        log_path: str | None = None,
        run_dir: str | Path | None = None,
        root: Path = ROOT,
        stack_name: str = "amazon-channel-local",
        pump_interval: float = 0.05,
    ):
        self.ports = {"aws": port, "amazon": amazon_port, "commerce": commerce_port, "page": page_port}
        self.page_url: str | None = None
        self.scenario = scenario
        self.initial_hold = list(hold)
        self.events = EventLog(out)
        self.log_stream = log_stream
        self.log_path = log_path
        self.run_dir = Path(run_dir) if run_dir else None
        self.root = root
        self.stack_name = stack_name
        self.pump_interval = pump_interval
        self.settings: dict[str, Any] = {}
        self.started_seconds: float | None = None
        self.pump_lock = threading.RLock()  # one pump at a time: the loop, or a scenario's settle
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self._cleanup: list[Callable[[], None]] = []
        self._seen_invocations = 0
        self._execution_status: dict[str, str] = {}

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> LocalServer:
        t0 = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_seconds = time.perf_counter() - t0
        return self

    def _start(self) -> None:
        from .sim_control import ControlledAmazon, ControlledCommerce
        from .stack import LocalStack

        if self.run_dir is not None:
            self._claim_run_dir()
        self.amazon = ControlledAmazon(
            notify=self._deliver_notification, seller_id=DEFAULT_SELLER, port=self.ports["amazon"]
        )
        self.commerce = ControlledCommerce(on_event=self._deliver_commerce_event, port=self.ports["commerce"])
        self.amazon.start()
        self._cleanup.append(self.amazon.stop)
        self.commerce.start()
        self._cleanup.append(self.commerce.stop)

        port = self.ports["aws"] or _free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.stack = LocalStack(
            root=self.root,
            environment_overrides=simulator_environment(self.amazon, self.commerce),
            log_stream=self.log_stream,
            stack_name=self.stack_name,
        )
        self.stack.start()
        self._cleanup.append(self.stack.stop)
        for service in ("dynamodb", "events", "lambda", "secretsmanager", "sqs", "stepfunctions"):
            self.stack.client(service)  # made now: boto3's default session is not safe to share while creating
        if self.log_path is None and self.stack.log_path is not None:
            self.log_path = str(self.stack.log_path)
        # Step Functions service integrations call back to localhost:$MOTO_PORT when boto calls are
        # not intercepted in-process; point them at this endpoint.
        saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        self._cleanup.append(lambda: _restore_env("MOTO_PORT", saved_moto_port))
        self._serve_endpoint(port)

        # secrets, the store (settings, marketplaces), catalog and customers, as Player does
        scenario = self.scenario or Scenario(path="<local up>", name="", settings={}, catalog=[], customers=[])
        if self.initial_hold:
            self.stack.hold(*self.initial_hold)
        self._configure(scenario)
        self._serve_orders_page()
        for target in (self._pump_loop, self._monitor_loop):
            thread = threading.Thread(target=target, name=f"local-up-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve_orders_page(self) -> None:
        """The merchant's orders page (the HTTP API's page routes, with the local sign-in)."""
        from .orders_page_local import serve_orders_page

        serving = serve_orders_page(self.stack, port=self.ports["page"])
        self.page_url = serving.__enter__() + "/page/orders"

        def stop_serving() -> None:
            serving.__exit__(None, None, None)

        self._cleanup.append(stop_serving)

    def play_startup_scenario(self) -> dict | None:
        """Play the steps of the `--scenario` given at start (its configuration is applied already)."""
        if self.scenario is None or not self.scenario.steps:
            return None
        return self._play(self.scenario)

    def ready(self) -> None:
        """Announce the stack: write the run dir's state file (what `local down` and others read)."""
        if self.run_dir is not None:
            self._write_state()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self) -> None:
        """Block until Ctrl-C (KeyboardInterrupt) or `POST /_local/shutdown`."""
        try:
            while not self._stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        while self._cleanup:
            with contextlib.suppress(Exception):
                self._cleanup.pop()()
        if self.run_dir is not None:
            state = self.run_dir / STATE_FILE
            with contextlib.suppress(Exception):
                if json.loads(state.read_text()).get("pid") == os.getpid():
                    state.unlink()

    # -- the run dir -----------------------------------------------------------------------------
    def _claim_run_dir(self) -> None:
        assert self.run_dir is not None
        state = self.run_dir / STATE_FILE
        if state.exists():
            try:
                pid = int(json.loads(state.read_text())["pid"])
                os.kill(pid, 0)
            except (ValueError, KeyError, OSError):
                state.unlink(missing_ok=True)  # left by a stack that is gone
            else:
                raise ControlError(
                    409,
                    f"a local stack is already running (pid {pid}, {state}); stop it with `amazon-channel local down`",
                )
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def _write_state(self) -> None:
        assert self.run_dir is not None
        state = self.info()
        tmp = self.run_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.run_dir / STATE_FILE)

    # -- what the simulators send ------------------------------------------------------------------
    def _deliver_notification(self, body: str) -> None:
        self.stack.client("sqs").send_message(QueueUrl=self.stack.queue_url("NotificationsQueue"), MessageBody=body)
        with contextlib.suppress(Exception):
            change = json.loads(body)["Payload"]["OrderChangeNotification"]
            self.events.line(
                "amazon",
                f"ORDER_CHANGE {change['AmazonOrderId']} {change['Summary']['OrderStatus']} -> NotificationsQueue",
            )

    def _deliver_commerce_event(self, entry: dict) -> None:
        bus = self.stack.resources.get("CommerceEventBus") or self.stack.resources["ChannelEventBus"]
        result = self.stack.client("events").put_events(Entries=[{**entry, "EventBusName": bus}])
        if result.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the Commerce event: {result}")
        with contextlib.suppress(Exception):
            value = json.loads(entry["Detail"])["data"]["value"]
            self.events.line(
                "commerce",
                f"{entry['DetailType'].rsplit('.', 1)[-1]} order {value['order_id']} "
                f"shipment {value['entity_id']} -> {bus}",
            )

    # -- configuration and scenarios -----------------------------------------------------------------
    def _configure(self, scenario: Scenario) -> None:
        """Player's configuration, with the settings merged into the running store's."""
        self.settings = {**self.settings, **scenario.settings}
        known = self.amazon.known_orders()
        orders = [
            Step(0, "amazon.place_order", {"order": {"id": oid, "fulfillment": f, "marketplace": m}})
            for oid, (f, m) in known.items()
        ]
        configure = dataclasses.replace(scenario, settings=self.settings, steps=orders + list(scenario.steps))
        player = Player.attached(configure, self.stack, self.amazon, self.commerce)
        player.connected_at = CONNECTED_AT
        with self.pump_lock:
            player._configure()

    def _play(self, scenario: Scenario) -> dict:
        for step in scenario.steps:
            if step.do in NOT_YET:
                raise NotSupportedYet(f"{scenario.path}: {step.where()}: {NOT_YET[step.do]}")
        known = self.amazon.known_orders()
        placed = {o["id"] for o in scenario.orders}
        referenced = []
        for step in scenario.steps:
            oid = step.args.get("order_id")
            if oid and oid in known and oid not in placed and oid not in referenced:
                referenced.append(oid)
        extra = [
            Step(0, "amazon.place_order", {"order": {"id": oid, "fulfillment": known[oid][0]}}) for oid in referenced
        ]
        reported = dataclasses.replace(scenario, steps=extra + list(scenario.steps))
        player = Player.attached(reported, self.stack, self.amazon, self.commerce)
        player.connected_at = CONNECTED_AT
        self.events.line("control", f"scenario {scenario.name or scenario.path!r}: {len(scenario.steps)} steps")
        with self.pump_lock:
            for step in scenario.steps:
                player.run(step)
            self.stack.settle()
            return player.result()

    def play(self, raw: Any, name: str = "<posted scenario>") -> dict:
        """Validate and play a scenario (format v1) on the running stack; return its result."""
        scenario = parse(raw, path=name, known_orders=self.amazon.known_orders())
        self._configure(scenario)
        return self._play(scenario)

    # -- holds ---------------------------------------------------------------------------------------
    def hold(self, *functions: str) -> list[str]:
        if functions:
            self.stack.hold(*functions)
            self.events.line("hold", ", ".join(functions) + " (the stack does not run it; invoke it yourself)")
        return sorted(self.stack.held)

    def release(self, *functions: str) -> list[str]:
        names = functions or tuple(sorted(self.stack.held))
        self.stack.release(*functions)
        if names:
            self.events.line("release", ", ".join(names))
        return sorted(self.stack.held)

    # -- background loops ----------------------------------------------------------------------------
    def _pump_loop(self) -> None:
        idle = self.pump_interval
        while not self._stop.is_set():
            processed = 0
            try:
                with self.pump_lock:
                    processed = self.stack.pump()
            except Exception as e:  # noqa: BLE001 - keep serving; the handler log has the details
                self.events.line("error", f"pump: {type(e).__name__}: {e}")
                self._stop.wait(1)
            if processed:
                idle = self.pump_interval
            else:
                # Lambda's pollers long-poll; here an idle stack polls less and less often (up to 0.5 s)
                self._stop.wait(idle)
                idle = min(idle * 2, 0.5)

    def _monitor_loop(self) -> None:
        while not self._stop.wait(0.2):
            with contextlib.suppress(Exception):
                self._report_invocations()
                self._report_executions()
        with contextlib.suppress(Exception):
            self._report_invocations()

    def _report_invocations(self) -> None:
        invocations = self.stack.invocations
        while self._seen_invocations < len(invocations):
            inv = invocations[self._seen_invocations]
            self._seen_invocations += 1
            outcome = "ok" if inv["ok"] else f"ERROR {inv['error']}"
            self.events.line(
                "invoke", f"{inv['logical_id']} <- {inv['source']}: {outcome} ({inv['duration'] * 1000:.0f} ms)"
            )

    def _report_executions(self) -> None:
        from .stack import _paginate

        sfn = self.stack.client("stepfunctions")
        for arn in self.stack._state_machines:
            for e in _paginate(sfn, "list_executions", "executions", stateMachineArn=arn):
                if self._execution_status.get(e["executionArn"]) != e["status"]:
                    self._execution_status[e["executionArn"]] = e["status"]
                    self.events.line("workflow", f"{e['name']} {e['status']}")

    # -- the endpoint ----------------------------------------------------------------------------------
    def _serve_endpoint(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

            def log(self, *args: Any, **kwargs: Any) -> None:
                pass

        moto_app = DomainDispatcherApplication(create_backend_app)
        events = self.events

        def app(environ: dict, start_response: Callable) -> Any:
            path = environ.get("PATH_INFO", "")
            if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                return self._control_app(environ, start_response)
            if path.startswith("/moto-api"):
                return moto_app(environ, start_response)
            service, operation = _aws_call(environ)
            status: list[int] = [0]

            def recording_start_response(code: str, headers: Any, *args: Any) -> Any:
                status[0] = int(code.split(" ", 1)[0])
                return start_response(code, headers, *args)

            try:
                return moto_app(environ, recording_start_response)
            finally:
                events.request(service, operation, status[0])

        self._server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
        thread = threading.Thread(target=self._server.serve_forever, name="local-up-endpoint", daemon=True)
        thread.start()

    def _control_app(self, environ: dict, start_response: Callable) -> Any:
        from werkzeug.wrappers import Request

        request = Request(environ)
        sub = request.path[len(CONTROL_PREFIX) :].strip("/")
        try:
            body = request.get_data()
            payload = json.loads(body) if body else {}
            status, answer = self._control(request.method, sub.split("/") if sub else [], payload, request.args)
        except ControlError as e:
            status, answer = e.status, {"error": str(e), "exit_code": e.exit_code}
        except json.JSONDecodeError as e:
            status, answer = 400, {"error": f"the body is not JSON: {e}", "exit_code": 2}
        except NotSupportedYet as e:
            status, answer = 422, {"error": str(e), "exit_code": 3}
        except ScenarioError as e:
            status, answer = 400, {"error": str(e), "exit_code": 2}
        except KeyError as e:
            status, answer = 404, {"error": str(e.args[0]) if e.args else "not found", "exit_code": 1}
        except Exception as e:  # noqa: BLE001 - the control API answers every failure in one line
            status, answer = 500, {"error": f"{type(e).__name__}: {e}", "log": self.log_path, "exit_code": 1}
        data = json.dumps(answer, default=str).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _control(self, method: str, seg: list[str], body: Any, query: Any) -> tuple[int, Any]:
        match method, seg:
            case "GET", ([] | ["info"]):
                return 200, self.info()
            case "GET", ["env-json"]:
                return 200, self.env_json()
            case "POST", ["scenario"]:
                name = query.get("name") or "<posted scenario>"
                return 200, {"result": self.play(body, name)}
            case "POST", ["settle"]:
                t0 = time.perf_counter()
                with self.pump_lock:
                    self.stack.settle(timeout=float(body.get("timeout", 120)) if isinstance(body, dict) else 120)
                return 200, {"settled": True, "seconds": round(time.perf_counter() - t0, 3)}
            case "POST", ["hold"]:
                return 200, {"held": self.hold(*_functions(body))}
            case "POST", ["release"]:
                return 200, {"held": self.release(*_functions(body))}
            case "GET", ["orders", order_id]:
                return 200, self.order(order_id)
            case "GET", ["executions"]:
                return 200, {"executions": self.executions()}
            case "GET", ["executions", name, "history"]:
                return 200, {"events": self.history(name)}
            case "GET", ["queues"]:
                return 200, {"queues": self.queues()}
            case "GET", ["queues", logical_id, "messages"]:
                return 200, {"messages": self.peek(logical_id)}
            case "GET", ["invocations"]:
                since = int(query.get("since", 0))
                return 200, {"invocations": self.stack.invocations[since:], "count": len(self.stack.invocations)}
            case "GET", ["requests"]:
                since = int(query.get("since", 0))
                return 200, {
                    "requests": [r for r in self.events.requests if r["index"] > since],
                    "count": self.events.request_count,
                }
            case "POST", ["shutdown"]:
                self.events.line("control", "shutdown requested")
                self._stop.set()
                return 202, {"stopping": True}
        raise ControlError(404, f"no control route {method} {CONTROL_PREFIX}/{'/'.join(seg)}")

    # -- what the control API shows ----------------------------------------------------------------------
    def info(self) -> dict:
        resources = [
            {"logical_id": lid, "type": self.stack.resource_types.get(lid, ""), "physical_id": phys}
            for lid, phys in sorted(self.stack.resources.items())
        ]
        return {
            "pid": os.getpid(),
            "stack_name": self.stack_name,
            "endpoint": self.endpoint,
            "control": self.endpoint + CONTROL_PREFIX,
            "amazon": self.amazon.base_url,
            "commerce": self.commerce.base_url,
            "orders_page": self.page_url,
            "log": self.log_path,
            "functions": sorted(self.stack.runtime.functions) if self.stack.runtime else [],
            "held": sorted(self.stack.held),
            "settings": self.settings,
            "resources": resources,
            "notes": self.stack.notes,
        }

    def env_json(self) -> dict[str, dict[str, str]]:
        """`sam local invoke --env-vars` file: every function's variables as the stack resolved them.

        Keyed by logical id. The values come from the running stack's functions (table names,
        queue URLs, bus name, state machine ARN, secret ARNs), with AWS_ENDPOINT_URL pointing at this
        endpoint and the SP-API, LWA and Commerce URLs at the simulators.
        """
        lam = self.stack.client("lambda")
        overrides = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "SP_API_ENDPOINT": self.amazon.base_url,
            "LWA_TOKEN_URL": self.amazon.lwa_token_url,
            "COMMERCE_BASE_URL": self.commerce.base_url,
        }
        out: dict[str, dict[str, str]] = {}
        for logical_id in sorted(self.stack.runtime.functions if self.stack.runtime else []):
            physical = self.stack.resources.get(logical_id)
            if not physical:
                continue
            config = lam.get_function_configuration(FunctionName=physical)
            variables = dict((config.get("Environment") or {}).get("Variables") or {})
            variables.update({k: v for k, v in overrides.items() if k in variables or k == "AWS_ENDPOINT_URL"})
            out[logical_id] = {k: str(v) for k, v in sorted(variables.items())}
        return out

    def order(self, amazon_order_id: str) -> dict:
        from amazon_channel.adapters.dynamodb_orders import DynamoDbOrderStore

        store = DynamoDbOrderStore(self.stack.resources["OrdersTable"], self.stack.client("dynamodb"))
        order = store.get(amazon_order_id)
        if order is None:
            raise KeyError(f"the channel has no order {amazon_order_id}")
        return {
            "order": order.model_dump(mode="json"),
            "history": [h.model_dump(mode="json") for h in store.history(amazon_order_id)],
        }

    def executions(self) -> list[dict]:
        return [
            {
                "name": e["name"],
                "status": e["status"],
                "state_machine": e["stateMachine"],
                "execution_arn": e["executionArn"],
                "start": str(e.get("startDate")),
                "stop": str(e.get("stopDate") or ""),
            }
            for e in self.stack.executions()
        ]

    def history(self, name: str) -> list[dict]:
        for e in self.stack.executions():
            if e["name"] == name:
                return self.stack.history(e["executionArn"])
        raise KeyError(f"no execution named {name}")

    def queues(self) -> list[dict]:
        sqs = self.stack.client("sqs")
        out = []
        for lid, url in sorted(self.stack.resources.items()):
            if self.stack.resource_types.get(lid) != "AWS::SQS::Queue":
                continue
            a = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            out.append(
                {
                    "logical_id": lid,
                    "url": url,
                    "visible": int(a["ApproximateNumberOfMessages"]),
                    "in_flight": int(a["ApproximateNumberOfMessagesNotVisible"]),
                }
            )
        return out

    def peek(self, logical_id: str, limit: int = 10) -> list[dict]:
        """Up to `limit` visible messages of a queue, left in the queue (visibility timeout 0)."""
        if self.stack.resource_types.get(logical_id) != "AWS::SQS::Queue":
            raise KeyError(f"no queue {logical_id}")
        got = self.stack.client("sqs").receive_message(
            QueueUrl=self.stack.resources[logical_id],
            MaxNumberOfMessages=min(limit, 10),
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return [
            {
                "message_id": m["MessageId"],
                "body": m["Body"],
                "attributes": {k: v.get("StringValue") for k, v in (m.get("MessageAttributes") or {}).items()},
            }
            for m in got.get("Messages", [])
        ]

    # -- printing ---------------------------------------------------------------------------------------
    def banner(self) -> str:
        lines = [
            f"amazon-channel local stack {self.stack_name!r} is up (pid {os.getpid()}, "
            f"started in {self.started_seconds or 0:.1f} s)",
            f"  AWS endpoint  {self.endpoint}   (AWS_ENDPOINT_URL; control API: {self.endpoint}{CONTROL_PREFIX}/)",
            f"  Amazon        {self.amazon.base_url}   (SP-API and LWA; control: {self.amazon.base_url}/_sim/)",
            f"  Commerce      {self.commerce.base_url}   (REST; control: {self.commerce.base_url}/_sim/)",
            f"  Orders page   {self.page_url}   (sign in: demo-operator or demo-viewer, password {DEMO_PASSWORD})",
            f"  handler logs  {self.log_path}",
        ]
        if self.run_dir is not None:
            lines.append(f"  state         {self.run_dir / STATE_FILE}   (stop: Ctrl-C or `amazon-channel local down`)")
        lines.append("Resources created from template.yaml:")
        sam_ids = set(self.stack.template.sam_resource_ids) if self.stack.template else set()
        aliased = {phys for lid, phys in self.stack.resources.items() if lid in sam_ids}
        shown = {
            lid: phys for lid, phys in self.stack.resources.items() if lid in sam_ids or phys not in aliased
        }  # a SAM id's generated twin is shown once
        width = max((len(lid) for lid in shown), default=10)
        for lid, phys in sorted(shown.items(), key=lambda kv: (self.stack.resource_types.get(kv[0], ""), kv[0])):
            lines.append(f"  {self.stack.resource_types.get(lid, ''):<34} {lid:<{width}}  {phys}")
        lines.extend(f"  note: {note}" for note in self.stack.notes)
        if self.stack.held:
            lines.append(
                "Held (the stack does not run them; invoke them yourself): " + ", ".join(sorted(self.stack.held))
            )
        lines.append("Events:")
        return "\n".join(lines)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _functions(body: Any) -> list[str]:
    names = body.get("functions", []) if isinstance(body, dict) else body or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ControlError(400, 'the body is {"functions": ["<logical id>", ...]}', exit_code=2)
    return names
