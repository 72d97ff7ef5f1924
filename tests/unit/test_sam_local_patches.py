"""The SAM CLI patches of `python -m amazon_channel_local.sam_local` (amazon_channel_local.sam_local_patches),
without Docker: a fake client records what SAM asks Docker for."""

import inspect
import subprocess
import sys
from types import SimpleNamespace

import pytest
from packaging.version import Version

from amazon_channel_local import sam_local, sam_local_patches

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
            image._build_image("public.ecr.aws/lambda/python:3.13-x86_64", "samcli/lambda-x", [layer], "x86_64")

        build()
        build()
        assert len(built) == 1  # the second invocation reuses the image
        (layer_dir / "python" / "mod.py").write_text("x = 22\n")  # `sam build` rewrote the layer
        build()
        assert len(built) == 2
    finally:
        image_module.LambdaImage._build_image = original


def test_sam_still_ignores_the_host_network():
    """Given SAM CLI unpatched, then `--docker-network host` still does not set network_mode (if it
    does, aws/aws-sam-cli#3609 is fixed: remove patch_container)."""
    source = inspect.getsource(_unpatched(container_module.Container.create))
    assert "network_mode" not in source and "is_host_network" not in source


def test_sam_still_rebuilds_a_layer_image_at_every_invocation():
    """Given SAM CLI unpatched, then an image with template layers is always rebuilt (if not,
    aws/aws-sam-cli#9255 is fixed: remove patch_lambda_image)."""
    image_module = pytest.importorskip("samcli.local.docker.lambda_image")
    source = inspect.getsource(image_module.LambdaImage.build)
    assert "is_defined_within_template" in source


def test_a_sam_cli_outside_the_tested_range_is_refused_loudly():
    with pytest.raises(sam_local_patches.UnsupportedSamCli, match=r"aws-sam-cli 1\.171\.0"):
        sam_local_patches.check_version(Version("1.171.0"))
    sam_local_patches.check_version()  # the installed, pinned one


def test_a_patched_internal_that_is_gone_is_named():
    with pytest.raises(sam_local_patches.PatchNoLongerApplies, match=r"patch_container: .* has no .*Container\.create"):
        sam_local_patches.patch_container(SimpleNamespace(Container=type("Container", (), {})))


def test_the_launcher_patches_sam_then_runs_its_command_line(monkeypatch, capsys):
    """Given `python -m amazon_channel_local.sam_local --version`, then SAM's modules are patched in
    that process and SAM's own command line answers."""
    image_module = pytest.importorskip("samcli.local.docker.lambda_image")
    monkeypatch.setattr(container_module.Container, "create", _unpatched(container_module.Container.create))
    monkeypatch.setattr(image_module.LambdaImage, "_build_image", _unpatched(image_module.LambdaImage._build_image))
    with pytest.raises(SystemExit) as done:
        sam_local.main(["--version"])
    assert done.value.code == 0
    assert "SAM CLI, version 1.170" in capsys.readouterr().out
    assert getattr(container_module.Container.create, sam_local_patches._PATCHED, False)
    assert getattr(image_module.LambdaImage._build_image, sam_local_patches._PATCHED, False)


def test_no_other_interpreter_of_the_venv_is_patched():
    """Given a plain Python of the venv (no .pth hook any more), then SAM's modules are SAM's own."""
    code = (
        "import samcli.local.docker.container as c, samcli.local.docker.lambda_image as i; "
        "print(getattr(c.Container.create, '_amazon_channel_patched', False), "
        "getattr(i.LambdaImage._build_image, '_amazon_channel_patched', False))"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["False", "False"], proc.stderr + " (an old .pth? run ./dev setup: it deletes it)"


def _unpatched(fn):
    """SAM's own function, under a patch applied earlier in this process."""
    while getattr(fn, sam_local_patches._PATCHED, False):
        fn = fn.__wrapped__
    return fn
