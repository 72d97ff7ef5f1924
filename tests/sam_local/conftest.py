"""What `sam local invoke` needs: a Docker engine, the Lambda Python 3.13 image, and `sam build`.

Without a Docker engine these tests skip with the reason, except in CI (CI=true), where that is a
failure: CI (.ci/run) starts the engine itself (scripts/docker-engine.sh). The image is the
official one when it is there or can be pulled, else the stand-in built offline by
scripts/build-lambda-image.sh, once per machine (Docker keeps it). The timings of the image, of
`sam build` and of each invocation are printed at the end of the run.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sam_cli import IMAGE, ROOT, STAND_IN_LABEL, TIMINGS, VENV_BIN, sam_env, unavailable


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    terminalreporter.section("sam local invoke timings")
    for label, seconds in TIMINGS:
        terminalreporter.write_line(f"{seconds:7.1f} s  {label}")


@pytest.fixture(scope="session")
def docker_engine():
    if shutil.which("docker") is None:
        unavailable("there is no docker command (install Debian's docker.io: sudo scripts/docker-engine.sh)")
    proc = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        unavailable(
            "no Docker engine answers (start one: sudo scripts/docker-engine.sh): "
            + (proc.stderr.strip().splitlines() or ["?"])[-1]
        )
    return proc.stdout.strip()


@pytest.fixture(scope="session")
def lambda_image(docker_engine) -> str:
    """The image SAM CLI runs python3.13 functions on: present, pulled, or the stand-in built now."""

    def label() -> str | None:
        proc = subprocess.run(
            ["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{STAND_IN_LABEL}"}}}}', IMAGE],
            capture_output=True,
            text=True,
            check=False,
        )
        return None if proc.returncode else proc.stdout.strip()

    kind = label()
    if kind is not None:
        TIMINGS.append((f"{IMAGE}: cached ({'stand-in ' + kind if kind else 'official image'})", 0.0))
        return IMAGE
    if os.geteuid() != 0:
        unavailable(f"{IMAGE} is missing and building it needs root (sudo scripts/build-lambda-image.sh)")
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-lambda-image.sh"), "--pull"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kind = label()
    TIMINGS.append(
        (f"{IMAGE}: {'built the stand-in ' + kind if kind else 'pulled the official image'}", time.perf_counter() - t0)
    )
    return IMAGE


@pytest.fixture(scope="session")
def sam_built(tmp_path_factory, lambda_image) -> Path:
    """`sam build` of the project once: the built template."""
    work = tmp_path_factory.mktemp("sam-build")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            str(VENV_BIN / "sam"),
            "build",
            "--template-file",
            str(ROOT / "template.yaml"),
            "--build-dir",
            str(work / "build"),
            "--cache-dir",
            str(work / "cache"),
        ],
        cwd=work,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    TIMINGS.append(("sam build", time.perf_counter() - t0))
    return work / "build" / "template.yaml"
