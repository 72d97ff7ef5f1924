"""`amazon-channel local up` in a child process: start it, wait until it is up, talk to it, stop it.

For tests and scripts that need a long-running local stack:

    with LocalUpProcess(tmp_path, "--scenario", "scenarios/sample-events.json") as stack:
        stack.control("POST", "/_local/settle")
        boto3.client("sqs", endpoint_url=stack.endpoint).list_queues()
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .local_server import STATE_FILE
from .local_stack_commands import CliError, request

ROOT = Path(__file__).resolve().parents[2]


class LocalUpProcess:
    def __init__(
        self,
        run_dir: str | Path,
        *args: str,
        env: dict[str, str] | None = None,
        ports: tuple[int, int, int] = (0, 0, 0),
    ):
        self.run_dir = Path(run_dir)
        self.args = list(args)
        self.env = env
        self.ports = ports
        self.output_path = self.run_dir / f"local-up.{os.getpid()}.{id(self):x}.out"
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> LocalUpProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def command(self) -> list[str]:
        aws, amazon, commerce = self.ports
        return [
            sys.executable,
            "-m",
            "amazon_channel_local.cli",
            "local",
            "up",
            "--run-dir",
            str(self.run_dir),
            "--port",
            str(aws),
            "--amazon-port",
            str(amazon),
            "--commerce-port",
            str(commerce),
            "--page-port",
            "0",
            *self.args,
        ]

    def start(self, timeout: float = 180) -> LocalUpProcess:
        """Start it and wait until its state file names it (it is up, its startup scenario played)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        env.pop("AWS_ENDPOINT_URL", None)
        out = open(self.output_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self._out = out
        self.proc = subprocess.Popen(  # noqa: S603 - the stack's own command line, from its configuration
            self.command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        state = self.run_dir / STATE_FILE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"local up exited with {self.proc.returncode}:\n{self.output}")
            try:
                info = json.loads(state.read_text())
            except (FileNotFoundError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                self.info = info
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"local up was not up within {timeout:.0f} s:\n{self.output}")

    @property
    def endpoint(self) -> str:
        return self.info["endpoint"]

    @property
    def output(self) -> str:
        try:
            return self.output_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def control(self, method: str, path: str, body: Any = None, timeout: float = 300) -> Any:
        """A control API call (`/_local/...`) or a simulator control call (a full URL)."""
        if path.startswith("http"):
            base, _, rest = path.partition("/_sim/")
            return request(base, method, "/_sim/" + rest, body, timeout=timeout)
        return request(self.endpoint, method, path, body, timeout=timeout)

    def try_control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(0, answer) or (exit code, message) when the stack refuses."""
        try:
            return 0, self.control(method, path, body)
        except CliError as e:
            return e.exit_code, str(e)

    def stop(self, sig: int | None = None, timeout: float = 60) -> int | None:
        """Stop it (`POST /_local/shutdown`, or the signal given); its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if sig is not None:
                self.proc.send_signal(sig)
            else:
                try:
                    self.control("POST", "/_local/shutdown", timeout=10)
                except (CliError, KeyError):
                    self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode
