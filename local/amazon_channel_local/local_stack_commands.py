"""`amazon-channel local ...` (the long-running local stack) and `simulate --endpoint`.

    amazon-channel local up [--scenario FILE] [--hold FN ...] [--port 4566] [--env-json env.json]
    amazon-channel local down | status | env-json | hold FN ... | release [FN ...]
    amazon-channel simulate FILE --endpoint http://127.0.0.1:4566

Exit codes: 0 done; 1 failed (no stack answers, a port is taken, a step failed); 2 invalid input
(bad scenario, unknown option or function); 3 a scenario step's verb is not built yet.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .local_server import (
    DEFAULT_AMAZON_PORT,
    DEFAULT_COMMERCE_PORT,
    DEFAULT_PAGE_PORT,
    DEFAULT_PORT,
    DEFAULT_RUN_DIR,
    STATE_FILE,
)

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_YET = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def add_local_parser(sub: Any) -> None:
    local = sub.add_parser(
        "local",
        help="the long-running local stack: local up | down | status | env-json | hold | release",
        description="Serve the embedded stack (moto endpoint, in-process Lambda runtime, simulated Amazon and "
        "Commerce) on 127.0.0.1 until interrupted, and talk to it.",
    )
    commands = local.add_subparsers(dest="local_command", required=True)

    def where(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--run-dir",
            default=DEFAULT_RUN_DIR,
            help=f"where `local up` keeps its state file (default: {DEFAULT_RUN_DIR})",
        )
        p.add_argument("--endpoint", help="the running stack's endpoint URL (default: read from the run dir)")

    up = commands.add_parser("up", help="serve the embedded stack on 127.0.0.1 until Ctrl-C or `local down`")
    up.add_argument(
        "--scenario",
        help="scenario file (v1): its settings, catalog and customers configure the stack, then its steps are played",
    )
    up.add_argument(
        "--hold",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="a function (logical id) the stack must not run itself, so that you run it "
        "(sam local invoke); repeat or separate with commas",
    )
    up.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"AWS endpoint and control API port (default {DEFAULT_PORT}; 0: any free port)",
    )
    up.add_argument(
        "--amazon-port",
        type=int,
        default=DEFAULT_AMAZON_PORT,
        help=f"simulated Amazon port (default {DEFAULT_AMAZON_PORT}; 0: any free port)",
    )
    up.add_argument(
        "--commerce-port",
        type=int,
        default=DEFAULT_COMMERCE_PORT,
        help=f"simulated Commerce port (default {DEFAULT_COMMERCE_PORT}; 0: any free port)",
    )
    up.add_argument(
        "--page-port",
        type=int,
        default=DEFAULT_PAGE_PORT,
        help=f"the orders page's port (default {DEFAULT_PAGE_PORT}; 0: any free port)",
    )
    up.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"state file directory (default: {DEFAULT_RUN_DIR})")
    up.add_argument("--env-json", metavar="FILE", help="write the env.json for sam local invoke here once up")
    up.add_argument("--log", help="write the handlers' logs here (default: a temporary file)")

    down = commands.add_parser("down", help="stop the running local stack")
    where(down)
    status = commands.add_parser("status", help="show the running local stack's endpoints, holds and resources")
    where(status)
    env = commands.add_parser(
        "env-json",
        help="print the env.json for `sam local invoke --env-vars` (from the "
        "running stack: resource names and ports are its own)",
    )
    where(env)
    env.add_argument("--out", help="write it here instead of standard output")
    hold = commands.add_parser("hold", help="stop the stack from running these functions itself")
    where(hold)
    hold.add_argument("functions", nargs="+", metavar="FUNCTION")
    release = commands.add_parser("release", help="let the stack run these functions again (all if none named)")
    where(release)
    release.add_argument("functions", nargs="*", metavar="FUNCTION")


def run_local(args: argparse.Namespace) -> int:
    try:
        if args.local_command == "up":
            return _up(args)
        endpoint = resolve_endpoint(args.endpoint, args.run_dir, required=args.local_command != "down")
        if args.local_command == "down":
            return _down(endpoint, args.run_dir)
        if args.local_command == "status":
            return _status(endpoint)
        if args.local_command == "env-json":
            text = json.dumps(request(endpoint, "GET", "/_local/env-json"), indent=2) + "\n"
            if args.out:
                Path(args.out).write_text(text)
            else:
                sys.stdout.write(text)
            return EXIT_OK
        names = [n for item in args.functions for n in item.split(",") if n]
        verb = args.local_command
        held = request(endpoint, "POST", f"/_local/{verb}", {"functions": names})["held"]
        print("held: " + (", ".join(held) if held else "nothing"))
        return EXIT_OK
    except CliError as e:
        if getattr(args, "debug", False):
            raise
        print(f"amazon-channel: {e}", file=sys.stderr)
        return e.exit_code


# -- up / down ------------------------------------------------------------------------------------
def _up(args: argparse.Namespace) -> int:
    from .local_server import ControlError, LocalServer
    from .player import NotSupportedYet
    from .scenario import ScenarioError, load

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill`, `local down` fallback: stop as on Ctrl-C
    scenario = None
    hold = [n for item in args.hold for n in item.split(",") if n]
    log_stream = open(args.log, "a", buffering=1, encoding="utf-8") if args.log else None  # noqa: SIM115
    server = LocalServer(
        port=args.port,
        amazon_port=args.amazon_port,
        commerce_port=args.commerce_port,
        page_port=args.page_port,
        hold=hold,
        out=sys.stdout,
        log_stream=log_stream,
        log_path=args.log,
        run_dir=args.run_dir,
    )
    try:
        if args.scenario:
            scenario = load(args.scenario)
        server.scenario = scenario
        server.start()
        print(server.banner(), flush=True)
        if scenario is not None and scenario.steps:
            result = server.play_startup_scenario()
            orders = (
                ", ".join(f"{o['amazon_order_id']} {o['channel_status'] or 'not imported'}" for o in result["orders"])
                or "no orders"
            )
            server.events.line("control", f"scenario {args.scenario} played: {orders}")
        if args.env_json:
            Path(args.env_json).write_text(json.dumps(server.env_json(), indent=2) + "\n")
            server.events.line("control", f"env.json written to {args.env_json}")
        server.ready()
        server.wait()
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    except (ScenarioError, KeyError) as e:  # NotSupportedYet is a ScenarioError
        if getattr(args, "debug", False):
            raise
        message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        print(f"amazon-channel: {message}", file=sys.stderr)
        return EXIT_NOT_YET if isinstance(e, NotSupportedYet) else EXIT_INVALID
    except (ControlError, OSError) as e:
        if getattr(args, "debug", False):
            raise
        detail = (
            " (port taken? see --port, --amazon-port, --commerce-port, --page-port)" if isinstance(e, OSError) else ""
        )
        print(f"amazon-channel: {e}{detail}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        server.stop()
        print("amazon-channel local stack stopped", flush=True)
        if log_stream is not None:
            log_stream.close()


def _down(endpoint: str | None, run_dir: str) -> int:
    state = _read_state(run_dir)
    if endpoint is None:
        print(f"no local stack is running (no {Path(run_dir) / STATE_FILE})")
        return EXIT_OK
    pid = state.get("pid") if state else None
    try:
        request(endpoint, "POST", "/_local/shutdown")
    except CliError:
        if not pid or not _alive(pid):
            (Path(run_dir) / STATE_FILE).unlink(missing_ok=True)
            print(f"no local stack answers at {endpoint}; removed its stale state file")
            return EXIT_OK
        raise
    if pid:
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            raise CliError(f"the local stack (pid {pid}) did not stop within 60 s")
    print(f"stopped the local stack at {endpoint}" + (f" (pid {pid})" if pid else ""))
    return EXIT_OK


def _status(endpoint: str) -> int:
    info = request(endpoint, "GET", "/_local/info")
    print(f"local stack {info['stack_name']!r} (pid {info['pid']})")
    print(f"  AWS endpoint  {info['endpoint']}   control: {info['control']}/")
    print(f"  Amazon        {info['amazon']}")
    print(f"  Commerce      {info['commerce']}")
    print(f"  handler logs  {info['log']}")
    print(f"  held          {', '.join(info['held']) or 'nothing'}")
    print(f"  functions     {', '.join(info['functions'])}")
    return EXIT_OK


# -- simulate --endpoint ----------------------------------------------------------------------------
def simulate_remote(path: str, endpoint: str, out: str | None) -> int:
    """Send a scenario's steps to a running stack; print or write its result (format v1)."""
    try:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CliError(f"{path}: no such file", EXIT_INVALID) from None
        except json.JSONDecodeError as e:
            raise CliError(f"{path}: bad JSON at line {e.lineno} column {e.colno}: {e.msg}", EXIT_INVALID) from None
        from urllib.parse import quote

        answer = request(endpoint, "POST", f"/_local/scenario?name={quote(path)}", raw, timeout=900)
    except CliError as e:
        print(f"amazon-channel: {e}", file=sys.stderr)
        return e.exit_code
    text = json.dumps(answer["result"], indent=2, ensure_ascii=False)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return EXIT_OK


# -- talking to a running stack ----------------------------------------------------------------------
def _read_state(run_dir: str) -> dict | None:
    try:
        return json.loads((Path(run_dir) / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def resolve_endpoint(endpoint: str | None, run_dir: str, required: bool = True) -> str | None:
    """The endpoint given, else the one in the run dir's state file."""
    if endpoint:
        return endpoint.rstrip("/")
    state = _read_state(run_dir)
    if state and state.get("endpoint"):
        return state["endpoint"]
    if required:
        raise CliError(
            f"no local stack is running (no {Path(run_dir) / STATE_FILE}); start one with "
            "`amazon-channel local up`, or give --endpoint"
        )
    return None


def request(endpoint: str, method: str, path: str, body: Any = None, timeout: float = 300) -> Any:
    """One control API call; its JSON answer, or CliError with the stack's one-line message."""
    url = endpoint.rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - a loopback URL the user gave
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            answer = json.loads(e.read())
            message, code = answer["error"], int(answer.get("exit_code", EXIT_FAILED))
            if answer.get("log"):
                message += f" (handler logs: {answer['log']})"
        except (ValueError, KeyError, TypeError):
            message, code = f"{method} {url}: HTTP {e.code} (is this a local stack's endpoint?)", EXIT_FAILED
        raise CliError(message, code) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise CliError(
            f"no local stack answers at {endpoint} ({reason}); start one with `amazon-channel local up`"
        ) from None
