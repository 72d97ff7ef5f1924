"""Running the SAM CLI of the project's venv for the sam_local tests (shared by conftest and the tests)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "public.ecr.aws/lambda/python:3.13-x86_64"
STAND_IN_LABEL = "amazon-channel.lambda-stand-in"
VENV_BIN = Path(sys.executable).parent
TIMINGS: list[tuple[str, float]] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str):
    if in_ci():
        pytest.fail(f"CI must run the sam local invoke tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def sam_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    return env


def sam_local_invoke(built_template: Path, function: str, event: Path, env_json: Path) -> tuple[object, str]:
    """`sam local invoke` one function with one event on the host network; (its result, its logs)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            # SAM CLI with the project's patches (--docker-network host, layer image reuse), this process only
            sys.executable,
            "-m",
            "amazon_channel_local.sam_local",
            "local",
            "invoke",
            function,
            "--template",
            str(built_template),
            "--event",
            str(event),
            "--env-vars",
            str(env_json),
            "--docker-network",
            "host",
            "--skip-pull-image",
        ],
        cwd=built_template.parent,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    TIMINGS.append((f"sam local invoke {function} -e {event.relative_to(ROOT)}", time.perf_counter() - t0))
    assert proc.returncode == 0, f"sam local invoke {function} failed:\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"sam local invoke {function} printed no result:\n{proc.stderr}"
    return json.loads(lines[-1]), proc.stderr
