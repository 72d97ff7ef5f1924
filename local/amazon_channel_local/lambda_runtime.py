"""In-process Lambda runtime: runs a function's real handler inside this process.

One module per function (imported once, like a warm container), the function's environment
(as moto resolved it from the template, plus overrides) set around each invocation, a fake
LambdaContext, handler stdout/stderr sent to a log stream. Invocations are serialised with an
RLock because ``os.environ`` and ``sys.stdout`` are process-global; nested invocations (a handler
that invokes another function, or sends a task token that resumes a workflow) reuse the lock on
the same thread.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .iam import acting_as
from .template_loader import FunctionSpec


class HandlerError(Exception):
    """Raised by ``LambdaRuntime.invoke`` when a handler failed; ``payload`` is Lambda's error payload."""

    def __init__(self, payload: dict, original: BaseException | None = None):
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload
        self.original = original


class SandboxTimedOut(BaseException):
    """The simulated end of an invocation at its timeout: a BaseException, so that no handler's
    `except Exception` can stop it, as nothing in a sandbox outlives Lambda's timeout."""


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    monotonic: Any = time.monotonic  # the stack's clock: quota waits count against the timeout

    def __post_init__(self) -> None:
        self._deadline = self.monotonic() + self.timeout_s
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self.monotonic()) * 1000))


class _LogSink(io.TextIOBase):
    """Process-wide stand-in for ``sys.stdout``/``sys.stderr`` while handlers run.

    Loggers bind the stream they see when created (Powertools Logger binds ``sys.stdout`` once
    per service name, process-wide), so handlers see this sink rather than one stack's log file;
    it forwards to the log stream of the stack that is running now, and drops output otherwise.
    """

    def __init__(self) -> None:
        super().__init__()
        self.target: TextIO | None = None

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        target = self.target
        if target is not None and not getattr(target, "closed", False):
            target.write(s)
        return len(s)

    def flush(self) -> None:
        target = self.target
        if target is not None and not getattr(target, "closed", False):
            target.flush()


LOG_SINK = _LogSink()


@contextlib.contextmanager
def _cut_when(when: Any):
    """Raise `SandboxTimedOut` at the first Python call (in this thread) after `when()` is true."""
    if when is None:
        yield
        return

    def trace(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and when():
            raise SandboxTimedOut()

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous)


def _top_level_names(layer_dirs: list[Path]) -> frozenset[str]:
    """The importable names a layer puts on sys.path (its packages and modules, also under python/)."""
    names: set[str] = set()
    for d in layer_dirs:
        for root in (d / "python", d):
            if root.is_dir():
                names.update(p.stem if p.suffix == ".py" else p.name for p in root.iterdir() if p.suffix in ("", ".py"))
    return frozenset(names)


LOCAL_ONLY = {"ORDER_SYNC_STORES_AT_ONCE": "1"}


class LambdaRuntime:
    def __init__(
        self,
        functions: dict[str, FunctionSpec],
        layer_dirs: list[Path],
        region: str,
        environment_overrides: dict[str, str] | None,
        log_stream: TextIO,
        *,
        clock: Any = None,
    ):
        self.functions = functions
        self.clock = clock  # a simulated stack_clock clock, handed to every function; None: the machine's
        self.layer_dirs = layer_dirs
        self.region = region
        self.environment_overrides = dict(environment_overrides or {})
        self.log_stream = log_stream
        self.lock = threading.RLock()
        self.name_to_logical: dict[str, str] = {}  # physical function name -> logical id
        self.invocations: list[dict] = []
        self._in_flight = 0
        self._count_lock = threading.Lock()
        self._modules: dict[str, Any] = {}
        self._sys_path_added: list[str] = []
        self._timeouts: dict[str, list[tuple[Any, float | None]]] = {}  # logical id -> (when, timeout_s)
        self._layer_roots = [str(d) + os.sep for d in layer_dirs]
        self._layer_tops = _top_level_names(layer_dirs)  # e.g. {"amazon_channel"}
        self._containers: dict[str | None, dict[str, Any]] = {}
        self._container: str | None = None  # whose layer modules are in sys.modules now

    # -- faults ------------------------------------------------------------------------------
    def timeout_next(
        self, logical_id: str, *, when: Any = None, count: int = 1, timeout_s: float | None = None
    ) -> None:
        """The next `count` invocations of the function time out: Lambda reports `Sandbox.Timedout`.

        With `when=None` the handler runs to its end and only its answer is lost (it timed out as
        it returned). With `when` (a callable), the invocation is cut at the first Python call
        after `when()` turns true, e.g. once Amazon has a confirmation: nothing after it runs, as
        when Lambda stops a sandbox. `timeout_s` is the function's timeout for that invocation
        (what `context.get_remaining_time_in_millis()` starts from); default, the template's.
        """
        if logical_id not in self.functions:
            raise KeyError(f"not a function of the stack: {logical_id}")
        with self._count_lock:
            self._timeouts.setdefault(logical_id, []).extend([(when, timeout_s)] * count)

    def _take_timeout(self, logical_id: str) -> tuple[Any, float | None] | None:
        with self._count_lock:
            queue = self._timeouts.get(logical_id)
            return queue.pop(0) if queue else None

    def _hand_clock(self) -> None:
        """The function's own `amazon_channel.domain.clock` reads the stack's clock."""
        if self.clock is None:
            return
        try:
            channel_clock = importlib.import_module("amazon_channel.domain.clock")
        except ImportError:  # a template whose functions do not use the channel's layer
            return
        if getattr(channel_clock, "source", None) and channel_clock.source() is not self.clock:
            channel_clock.use(self.clock)

    def _take_back_clock(self) -> None:
        """The process's own channel clock, if this stack handed it its clock, reads the machine's again."""
        channel_clock = sys.modules.get("amazon_channel.domain.clock")
        if self.clock is not None and channel_clock is not None and channel_clock.source() is self.clock:
            channel_clock.use(channel_clock.WallClock())

    # -- setup -------------------------------------------------------------------------------
    def install_layers(self) -> None:
        """Put each layer's folder on sys.path (and its ``python/`` subfolder, Lambda's layout)."""
        self._modules_before = set(sys.modules)
        LOG_SINK.target = self.log_stream
        for d in self.layer_dirs:
            for p in (d / "python", d):
                if p.is_dir() and str(p) not in sys.path:
                    sys.path.insert(0, str(p))
                    self._sys_path_added.append(str(p))

    # -- a container per function -------------------------------------------------------------
    # On Lambda each function runs in its own containers: its module-level caches (Secrets Manager
    # values, store settings, the LWA token, boto3 clients) are its own. Here the layer's modules
    # (amazon_channel) are kept per function and swapped in around its invocations, so a function
    # never gets from another one's cache what it would have to fetch itself (and so needs a grant for).
    def _is_layer_module(self, name: str, module: Any) -> bool:
        # by name first: sys.modules holds thousands of modules and this runs twice per invocation
        if name.partition(".")[0] not in self._layer_tops:
            return False
        f = getattr(module, "__file__", None) or ""
        return any(f.startswith(r) for r in self._layer_roots)

    def _enter_container(self, logical_id: str | None) -> str | None:
        """Make ``logical_id``'s layer modules current (None: the host process's); return the previous owner."""
        previous = self._container
        if previous == logical_id:
            return previous
        mine = {n: m for n, m in list(sys.modules.items()) if self._is_layer_module(n, m)}
        self._containers[previous] = mine
        for n in mine:
            sys.modules.pop(n, None)
        sys.modules.update(self._containers.pop(logical_id, {}))
        self._container = logical_id
        return previous

    @contextlib.contextmanager
    def container(self, logical_id: str) -> Iterator[None]:
        """Inside, imports of the layer's modules give ``logical_id``'s own copies (e.g. for a test
        that sets a function's clock): what is imported here is what its invocations use."""
        with self.lock:
            previous = self._enter_container(logical_id)
            try:
                yield
            finally:
                self._enter_container(previous)

    def uninstall_layers(self) -> None:
        """Undo install_layers; forget code this runtime imported first (the next stack cold-starts)."""
        if self._container is not None:
            self._enter_container(None)
        self._containers.clear()
        self._take_back_clock()
        roots = [str(d) + os.sep for d in self.layer_dirs] + [str(f.code_dir) + os.sep for f in self.functions.values()]
        for name in set(sys.modules) - getattr(self, "_modules_before", set(sys.modules)):
            f = getattr(sys.modules.get(name), "__file__", None) or ""
            if name.startswith("_local_lambda_") or any(f.startswith(r) for r in roots):
                sys.modules.pop(name, None)
        self._modules.clear()
        if LOG_SINK.target is self.log_stream:
            LOG_SINK.target = None
        for p in self._sys_path_added:
            with contextlib.suppress(ValueError):
                sys.path.remove(p)
        self._sys_path_added.clear()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- entry points ------------------------------------------------------------------------
    def dispatch_moto(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Replacement of moto's ``LambdaFunction._invoke_lambda``."""
        logical_id = self.name_to_logical.get(fn.function_name)
        if logical_id is None or logical_id not in self.functions:
            payload = {
                "errorType": "Runtime.HandlerNotFound",
                "errorMessage": f"no local code for function {fn.function_name}",
                "stackTrace": [],
            }
            return json.dumps(payload), True, ""
        if isinstance(event, (str, bytes)):
            with contextlib.suppress(ValueError):
                event = json.loads(event or "{}")
        result, error, _exc = self._run(logical_id, fn, event, source="lambda:invoke")
        if error is not None:
            return json.dumps(error), True, ""
        try:
            return json.dumps(result), False, ""
        except (TypeError, ValueError) as e:
            return json.dumps({"errorType": "Runtime.MarshalError", "errorMessage": str(e), "stackTrace": []}), True, ""

    def invoke(
        self, logical_id: str, fn: Any, event: Any, source: str
    ) -> tuple[Any, dict | None, BaseException | None]:
        return self._run(logical_id, fn, event, source)

    # -- core --------------------------------------------------------------------------------
    def _environment(self, fn: Any) -> dict[str, str]:
        env = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "_HANDLER": fn.handler or "",
        }
        declared = {k: str(v) for k, v in (fn.environment_vars or {}).items()}
        env.update(declared)
        # As in AWS (and `sam local invoke --env-vars`), a function has only the variables its template
        # declares: an override (a simulator's URL) replaces a declared one and adds no other, so a
        # handler's settings that lack a declaration fail here as they would in Lambda. Powertools'
        # switches (tracing, metrics off) are the local runtime's own.
        env.update(
            {k: v for k, v in self.environment_overrides.items() if k in declared or k.startswith("POWERTOOLS_")}
        )
        # moto's in-memory backends are not thread-safe (a Query iterating a table's items while another
        # thread writes one raises "dictionary changed size during iteration"): the order sync syncs its
        # stores one at a time here. On AWS they run side by side (tests/unit/test_store_fan_out.py).
        env.update({k: v for k, v in LOCAL_ONLY.items() if k in declared})
        return env

    def _load(self, logical_id: str) -> Any:
        """The function's handler module (imported once), its container holding the stack's clock."""
        self._hand_clock()
        if logical_id in self._modules:
            return self._modules[logical_id]
        spec = self.functions[logical_id]
        module_name, _, _func = spec.handler.rpartition(".")
        path = spec.code_dir / (module_name.replace(".", "/") + ".py")
        unique = f"_local_lambda_{logical_id}_{module_name.replace('.', '_')}"
        code_dir = str(spec.code_dir)
        before = set(sys.modules)
        sys.path.insert(0, code_dir)
        try:
            mspec = importlib.util.spec_from_file_location(unique, path)
            if mspec is None or mspec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(mspec)
            sys.modules[unique] = module
            try:
                mspec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(unique, None)
                raise
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(code_dir)
            # sibling modules of this function's folder must not shadow another function's
            for name in set(sys.modules) - before:
                f = getattr(sys.modules.get(name), "__file__", None) or ""
                if name != unique and f.startswith(code_dir + os.sep):
                    sys.modules.pop(name, None)
        self._modules[logical_id] = module
        return module

    def _run(self, logical_id: str, fn: Any, event: Any, source: str) -> tuple[Any, dict | None, BaseException | None]:
        """Run the function once: its result, its error payload (as Lambda answers it) and the exception."""
        spec = self.functions[logical_id]
        started = time.perf_counter()
        with self._count_lock:
            self._in_flight += 1
        result: Any = None
        error: dict | None = None
        exc: BaseException | None = None
        try:
            with self.lock:
                saved_env = dict(os.environ)
                env = self._environment(fn)
                if not env.get("AWS_ENDPOINT_URL"):
                    env.pop("AWS_ENDPOINT_URL", None)
                    os.environ.pop("AWS_ENDPOINT_URL", None)
                os.environ.update(env)
                timeout = self._take_timeout(logical_id)
                ctx = FakeLambdaContext(
                    function_name=fn.function_name,
                    memory_limit_in_mb=int(fn.memory_size or 128),
                    invoked_function_arn=fn.function_arn,
                    aws_request_id=str(uuid.uuid4()),
                    timeout_s=float((timeout and timeout[1]) or fn.timeout or 3),
                    monotonic=self.clock.monotonic if self.clock is not None else time.monotonic,
                )
                sys.path.insert(0, str(spec.code_dir))
                host = self._enter_container(logical_id)
                try:
                    LOG_SINK.target = self.log_stream
                    with contextlib.redirect_stdout(LOG_SINK), contextlib.redirect_stderr(LOG_SINK):
                        print(f"START RequestId: {ctx.aws_request_id} Function: {logical_id} Source: {source}")
                        try:
                            with acting_as(logical_id):  # its AWS calls are made with its own role
                                module = self._load(logical_id)
                                handler = getattr(module, spec.handler.rpartition(".")[2])
                                with _cut_when(timeout[0] if timeout else None):
                                    result = handler(event, ctx)
                            if timeout is not None:
                                raise SandboxTimedOut()
                        except SandboxTimedOut:
                            result, exc = None, None
                            error = {
                                "errorType": "Sandbox.Timedout",
                                "errorMessage": f"RequestId: {ctx.aws_request_id} Error: Task timed out after "
                                f"{ctx.timeout_s:.2f} seconds",
                            }
                            print(f"[ERROR] Sandbox.Timedout: {error['errorMessage']}")
                        except Exception as e:  # noqa: BLE001 - Lambda reports every exception
                            exc = e
                            error = {
                                "errorType": type(e).__name__,
                                "errorMessage": str(e),
                                "stackTrace": traceback.format_tb(e.__traceback__),
                            }
                            print(f"[ERROR] {type(e).__name__}: {e}")
                            traceback.print_exception(e, file=LOG_SINK)
                        print(f"END RequestId: {ctx.aws_request_id}")
                    with contextlib.suppress(Exception):
                        self.log_stream.flush()
                finally:
                    self._enter_container(host)
                    with contextlib.suppress(ValueError):
                        sys.path.remove(str(spec.code_dir))
                    for k in list(os.environ):
                        if k not in saved_env:
                            del os.environ[k]
                    for k, v in saved_env.items():
                        if os.environ.get(k) != v:
                            os.environ[k] = v
        finally:
            with self._count_lock:
                self._in_flight -= 1
            self.invocations.append(
                {
                    "logical_id": logical_id,
                    "source": source,
                    "ok": error is None,
                    "error": error and f"{error['errorType']}: {error['errorMessage']}",
                    "duration": time.perf_counter() - started,
                }
            )
        return result, error, exc
