"""Two patches to SAM CLI's `sam local invoke`, applied only in the process that runs it: the
launcher `python -m amazon_channel_local.sam_local local invoke ...` (amazon_channel_local.sam_local)
calls `apply()`, then SAM's own command line. Nothing else in the venv is patched.

Each patch names the SAM CLI versions it was written and tested against (`SAM_CLI_TESTED`, the
pinned 1.170.0 and its patch releases). Outside that range `apply()` refuses loudly
(`UnsupportedSamCli`), as the moto patches do: a skipped patch would leave `sam local invoke`
unable to reach the local stack, and the failure would show as a network timeout inside the
container. tests/unit/test_sam_local_patches.py has, per patch, a test that fails when SAM CLI no
longer behaves so, and one that fails when the patched internal is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import json
import socket
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

CONTAINER_MODULE = "samcli.local.docker.container"
IMAGE_MODULE = "samcli.local.docker.lambda_image"
RIE = "/var/rapid/aws-lambda-rie"
DIGESTS_FILE = "amazon-channel-image-digests.json"
_PATCHED = "_amazon_channel_patched"
# The pinned SAM CLI (requirements-dev.txt) and its patch releases.
SAM_CLI_TESTED = SpecifierSet(">=1.170.0,<1.171")


class UnsupportedSamCli(RuntimeError):
    """The installed SAM CLI is outside the patches' tested range."""


class PatchNoLongerApplies(RuntimeError):
    """A patched SAM CLI internal is gone: review the patch against the new SAM CLI."""


def installed_sam_cli() -> Version:
    return Version(importlib.metadata.version("aws-sam-cli"))


def check_version(version: Version | None = None) -> None:
    version = version or installed_sam_cli()
    if version not in SAM_CLI_TESTED:
        raise UnsupportedSamCli(
            f"aws-sam-cli {version} is not a version the sam local patches were tested with ({SAM_CLI_TESTED}): "
            "install the pinned one (./dev setup), or run tests/unit/test_sam_local_patches.py against it "
            "and widen SAM_CLI_TESTED if every patch still applies and is still needed."
        )


def _require(cls: Any, name: str, patch: str) -> None:
    if not callable(getattr(cls, name, None)):
        raise PatchNoLongerApplies(f"{patch}: aws-sam-cli {installed_sam_cli()} has no {cls.__qualname__}.{name}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def patch_container(module: Any) -> None:
    """`--docker-network host` puts the function's container on the host network
    (``samcli.local.docker.container.Container.create``; idempotent).

    SAM CLI accepts `--docker-network host` but creates the container on Docker's default network
    and only skips connecting it to "host" (the `network_mode` line was dropped in SAM CLI 1.86,
    aws/aws-sam-cli#5279; open issues aws/aws-sam-cli#3609 and #4236). A container there has its
    own loopback, so `AWS_ENDPOINT_URL=http://127.0.0.1:...` cannot reach the local stack, and on a
    Docker engine started without the default bridge (`dockerd --bridge=none`, the project's
    choice) it has no network at all. The patch restores what the option says: `network_mode=host`;
    since the container then shares the host's ports, the runtime interface emulator listens on
    127.0.0.1 on the port SAM already chose for it (instead of 8080), and its Runtime API on a free
    port (instead of 9001), so that concurrent containers do not collide. Other networks: unchanged.
    """
    container_cls = module.Container
    _require(container_cls, "create", "patch_container")
    if getattr(container_cls.create, _PATCHED, False):
        return
    original = container_cls.create

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "network_id", None) != "host" or self.is_created():
            return original(self, *args, **kwargs)
        client = self.docker_client  # SAM's lazily validated client
        saved_entrypoint = self._entrypoint
        entry = list(self._entrypoint or [])
        if entry and entry[0] == RIE:
            # options go right after `--log-level LEVEL`, before any bootstrap arguments
            at = 3 if len(entry) >= 3 and entry[1] == "--log-level" else 1
            entry[at:at] = [
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.rapid_port_host}",
                "--runtime-api-address",
                f"127.0.0.1:{_free_port()}",
            ]
            self._entrypoint = entry
        self._validated_docker_client = _OnHostNetwork(client)
        try:
            return original(self, *args, **kwargs)
        finally:
            self._validated_docker_client = client
            self._entrypoint = saved_entrypoint

    setattr(create, _PATCHED, True)
    create.__wrapped__ = original  # type: ignore[attr-defined]
    create.__doc__ = original.__doc__
    container_cls.create = create


def patch_lambda_image(module: Any) -> None:
    """The function image is reused while its layers are unchanged
    (``samcli.local.docker.lambda_image.LambdaImage._build_image``; idempotent).

    For a layer defined in the template, SAM rebuilds the image (`FROM` the runtime image, `ADD`
    each layer) at every invocation: for the channel layer (46 MB) 5 to 10 s each time (open issues
    aws/aws-sam-cli#9255 and #3725). The patch records a digest of what went into the image (the
    base image id, the runtime emulator binary, and each layer folder's file names, sizes and
    modification times) and skips the build when the image SAM would build is there with the same
    digest. A `sam build`, which rewrites the layer, or a new base image makes the next invocation
    rebuild it.
    """
    image_cls = module.LambdaImage
    _require(image_cls, "_build_image", "patch_lambda_image")
    if getattr(image_cls._build_image, _PATCHED, False):
        return
    original = image_cls._build_image

    def _build_image(  # noqa: PLR0917 - SAM CLI's LambdaImage._build_image signature
        self: Any, base_image: str, docker_tag: str, layers: Any, architecture: str, stream: Any = None
    ) -> Any:
        try:
            digest = _image_digest(self, base_image, layers, architecture)
            digests_path = Path(self.layer_downloader.layer_cache) / DIGESTS_FILE
            known = json.loads(digests_path.read_text()) if digests_path.exists() else {}
            recorded = known.get(docker_tag) or {}
            if recorded.get("digest") == digest and recorded.get("id") == self.docker_client.images.get(docker_tag).id:
                return None  # the same base image and layers: the image SAM would build is there
        except Exception:  # noqa: BLE001 - any doubt: build as SAM would
            digest = None
        result = original(self, base_image, docker_tag, layers, architecture, stream)
        if digest is not None:
            with contextlib.suppress(Exception):
                known[docker_tag] = {"digest": digest, "id": self.docker_client.images.get(docker_tag).id}
                tmp = digests_path.with_suffix(".tmp")
                tmp.write_text(json.dumps(known, indent=2))
                tmp.replace(digests_path)
        return result

    setattr(_build_image, _PATCHED, True)
    _build_image.__wrapped__ = original  # type: ignore[attr-defined]
    _build_image.__doc__ = original.__doc__
    image_cls._build_image = _build_image


def _image_digest(image: Any, base_image: str, layers: Any, architecture: str) -> str:
    from samcli.local.docker.utils import get_rapid_name

    h = hashlib.sha256()
    h.update(image.docker_client.images.get(base_image).id.encode())
    rapid = Path(image._RAPID_SOURCE_PATH) / get_rapid_name(architecture)
    st = rapid.stat()
    h.update(f"{rapid.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    for layer in layers:
        h.update(f"layer {layer.name}\n".encode())
        root = Path(layer.codeuri)
        for path in sorted(root.rglob("*")):
            st = path.stat()
            h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


class _OnHostNetwork:
    """SAM's Docker client, except that containers are created on the host network, unpublished."""

    def __init__(self, client: Any):
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def containers(self) -> Any:
        return _HostNetworkContainers(self._client.containers)


class _HostNetworkContainers:
    def __init__(self, collection: Any):
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def create(self, image: Any, command: Any = None, **kwargs: Any) -> Any:
        kwargs.pop("ports", None)  # every port of the container is the host's already
        kwargs["network_mode"] = "host"
        return self._collection.create(image, command, **kwargs)


PATCHES = {CONTAINER_MODULE: patch_container, IMAGE_MODULE: patch_lambda_image}


def apply() -> None:
    """Check the SAM CLI version, then patch SAM's modules (call before SAM's command line runs)."""
    check_version()
    for name, patch in PATCHES.items():
        patch(importlib.import_module(name))


def install() -> None:
    """Does nothing: kept so that an old venv's `.pth` hook (which `./dev setup` now deletes) is
    harmless until then. SAM CLI is patched by `apply()`, in `amazon_channel_local.sam_local` only."""
