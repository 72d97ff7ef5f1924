"""Each function's environment as template.yaml declares it (Globals plus its own), with stand-in
values: what Lambda gives a handler at its cold start."""

from functools import cache
from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ONLY = {"AWS_ENDPOINT_URL"}  # declared empty in AWS (sam local invoke sets it)


@cache
def _template() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())


def _declared(folder: str) -> dict:
    template = _template()
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Serverless::Function" and props.get("CodeUri", "").rstrip("/").endswith(folder):
            return variables | ((props.get("Environment") or {}).get("Variables") or {})
    raise KeyError(f"no function with CodeUri functions/{folder}/ in template.yaml")


def declared_variables(folder: str) -> set[str]:
    """The variable names template.yaml gives the function whose code is functions/<folder>/."""
    return set(_declared(folder))


def function_environment(folder: str) -> dict[str, str]:
    """Every variable the function declares: its literal value, or a stand-in for a reference
    (a valid one where the value is checked)."""
    numbers = {
        "ORDER_SYNC_OVERLAP_SECONDS": "600",
        "ORDER_SYNC_INTERVAL_MINUTES": "5",
        "PII_RETENTION_DAYS": "30",
        "COMMERCE_AUTH": "oauth1",
    }
    return {
        name: value if isinstance(value, str) else numbers.get(name, f"test-{name.lower().replace('_', '-')}")
        for name, value in sorted(_declared(folder).items())
        if name not in LOCAL_ONLY
    }
