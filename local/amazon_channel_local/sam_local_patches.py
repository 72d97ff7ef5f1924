"""Two patches to SAM CLI 1.170's `sam local invoke`, applied to the project venv's `sam`.

1. `--docker-network host` puts the function's container on the host network.
   SAM CLI accepts `--docker-network host` but then creates the container on Docker's default
   network and only skips connecting it to "host" (the `network_mode` line was dropped in SAM CLI
   1.86, aws/aws-sam-cli#5279; open issues aws/aws-sam-cli#3609 and #4236). A container there has
   its own loopback, so `AWS_ENDPOINT_URL=http://127.0.0.1:...` cannot reach the local stack, and
   on a Docker engine started without the default bridge (`dockerd --bridge=none`, the project's
   choice: no private-range addresses) the container has no network at all and SAM cannot even
   reach its runtime emulator. The patch restores what the option says: `network_mode=host`, and
   since the container then shares the host's ports, the runtime interface emulator listens on
   127.0.0.1 on the port SAM already chose for it (instead of 8080), and its Runtime API on a free
   port (instead of 9001), so that concurrent containers do not collide. Other networks: unchanged.

2. The function image is reused while its layers are unchanged.
   For a layer defined in the template, SAM rebuilds the image (`FROM` the runtime image, `ADD`
   each layer) at every invocation: for the channel layer (46 MB) that is 5 to 10 s each time.
   The patch records a digest of what went into the image (the base image id, the runtime
   emulator binary, and each layer folder's file names, sizes and modification times) and skips
   the build when the image SAM would build is there with the same digest. A `sam build`, which
   rewrites the layer, or a new base image makes the next invocation rebuild it.

Loaded by `amazon-channel-sam-local-patches.pth`, which `./dev setup` writes into the venv:
`install()` only registers an import hook; SAM's modules are patched when SAM imports them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import json
import socket
import sys
from pathlib import Path
from typing import Any

CONTAINER_MODULE = "samcli.local.docker.container"
IMAGE_MODULE = "samcli.local.docker.lambda_image"
RIE = "/var/rapid/aws-lambda-rie"
DIGESTS_FILE = "amazon-channel-image-digests.json"
_PATCHED = "_amazon_channel_patched"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def patch_container(module: Any) -> None:
    """Patch ``samcli.local.docker.container.Container.create`` (idempotent)."""
    container_cls = module.Container
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
    create.__doc__ = original.__doc__
    container_cls.create = create


def patch_lambda_image(module: Any) -> None:
    """Patch ``samcli.local.docker.lambda_image.LambdaImage._build_image`` (idempotent)."""
    image_cls = module.LambdaImage
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


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            PATCHES[fullname](module)

        loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Patch SAM's modules now if they are loaded, else when they are imported."""
    for name, patch in PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
