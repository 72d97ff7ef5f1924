"""One composition root per runtime: the Lambda handlers get their adapters from `amazon_channel.runtime`
(the local stack wires its own in `amazon_channel_local.stack`), so one file says what talks to what."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_handler_builds_its_own_adapters():
    # Given every handler module of the template's functions
    for path in sorted((ROOT / "functions").glob("*/*.py")):
        # Then none imports an adapter: runtime.py wires them
        adapters = {m for m in _imports(path) if m.startswith("amazon_channel.adapters")}
        assert not adapters, f"{path.relative_to(ROOT)} builds adapters itself: {adapters}; wire them in runtime.py"


def test_the_domain_knows_no_aws_and_no_http():
    # Given the domain package, Then it imports neither boto3 nor an HTTP client nor an adapter
    for path in sorted((ROOT / "layers/channel/amazon_channel/domain").glob("*.py")):
        imports = _imports(path)
        banned = {m for m in imports if m.split(".")[0] in {"boto3", "botocore", "urllib3", "requests"}}
        banned |= {m for m in imports if "adapters" in m.split(".")}
        assert not banned, f"{path.relative_to(ROOT)} imports {banned}"
