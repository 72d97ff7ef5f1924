"""The venv's SAM CLI patches (amazon_channel_local.sam_local_patches), without Docker: a fake client
records what SAM asks Docker for."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from amazon_channel_local import sam_local_patches

container_module = pytest.importorskip("samcli.local.docker.container")


class FakeContainers:
    def __init__(self):
        self.created = []

    def create(self, image, command=None, **kwargs):
        self.created.append({"image": image, "command": command, **kwargs})
        return SimpleNamespace(id="c0ffee")


class FakeDocker:
    def __init__(self):
        self.collection = FakeContainers()

    @property
    def containers(self):  # docker-py makes a new collection object on every access
        return self.collection


def created_on(network):
    sam_local_patches.patch_container(container_module)
    docker = FakeDocker()
    container = container_module.Container(
        image="public.ecr.aws/lambda/python:3.13-x86_64",
        cmd=[],
        working_dir="/var/task",
        host_dir="/tmp",
        entrypoint=[sam_local_patches.RIE, "--log-level", "error"],
        docker_client=docker,
    )
    container.network_id = network
    container.create(container_module.ContainerContext.INVOKE)
    (kwargs,) = docker.collection.created
    return container, kwargs


def test_host_network_means_the_host_network_and_the_emulator_on_sams_port():
    container, kwargs = created_on("host")
    assert kwargs["network_mode"] == "host"
    assert "ports" not in kwargs
    entry = kwargs["entrypoint"]
    assert entry[:3] == [sam_local_patches.RIE, "--log-level", "error"]
    assert entry[3:5] == ["--runtime-interface-emulator-address", f"127.0.0.1:{container.rapid_port_host}"]
    assert entry[5] == "--runtime-api-address" and entry[6].startswith("127.0.0.1:")
    assert container._entrypoint == [sam_local_patches.RIE, "--log-level", "error"]  # SAM's own state untouched


def test_other_networks_are_as_sam_makes_them():
    _container, kwargs = created_on(None)
    assert "network_mode" not in kwargs and "8080" in kwargs["ports"]
    assert kwargs["entrypoint"] == [sam_local_patches.RIE, "--log-level", "error"]


def test_the_layer_image_is_rebuilt_only_when_what_goes_into_it_changes(tmp_path):
    image_module = pytest.importorskip("samcli.local.docker.lambda_image")
    built = []

    class Images:
        def get(self, name):
            return SimpleNamespace(id="sha256:base" if "lambda/python" in name else f"sha256:{len(built)}")

    layer_dir = tmp_path / "ChannelLayer"
    (layer_dir / "python").mkdir(parents=True)
    (layer_dir / "python" / "mod.py").write_text("x = 1\n")
    image = image_module.LambdaImage.__new__(image_module.LambdaImage)
    image._validated_docker_client = SimpleNamespace(images=Images())
    image.layer_downloader = SimpleNamespace(layer_cache=str(tmp_path))
    original = image_module.LambdaImage._build_image
    try:
        image_module.LambdaImage._build_image = lambda self, *a, **k: built.append(a)
        setattr(image_module.LambdaImage._build_image, sam_local_patches._PATCHED, False)
        sam_local_patches.patch_lambda_image(image_module)
        layer = SimpleNamespace(name="ChannelLayer", codeuri=str(layer_dir))

        def build():
            return image._build_image("public.ecr.aws/lambda/python:3.13-x86_64", "samcli/lambda-x", [layer], "x86_64")

        build()
        build()
        assert len(built) == 1  # the second invocation reuses the image
        (layer_dir / "python" / "mod.py").write_text("x = 22\n")  # `sam build` rewrote the layer
        build()
        assert len(built) == 2
    finally:
        image_module.LambdaImage._build_image = original


def test_the_venvs_sam_loads_the_patches():
    code = (
        "import samcli.local.docker.container as c, samcli.local.docker.lambda_image as i; "
        "print(getattr(c.Container.create, '_amazon_channel_patched', False), "
        "getattr(i.LambdaImage._build_image, '_amazon_channel_patched', False))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.split() == ["True", "True"], proc.stderr + " (run ./dev setup: it writes the .pth hook)"
