"""What each role of the template grants, counted: ``python -m amazon_channel_local.iam_grants [--before REV]``.

Reads the template as samtranslator translates it (SAM policy templates expanded, the managed
policies SAM attaches by their published documents) and counts, per function and state machine,
the actions and resources its Allow statements grant, and the (action, resource) pairs. With
``--before REV`` it prints the same for ``template.yaml`` at that git revision, side by side.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from .iam import Statement, _as_list, managed_policy_document

ROOT = Path(__file__).resolve().parents[2]


def translated(template_text: str, region: str = "us-east-1") -> dict:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    from .template_loader import _NoManagedPolicies

    sam = yaml_parse(template_text)
    for res in sam.get("Resources", {}).values():
        props = res.setdefault("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function":
            props["CodeUri"] = {"Bucket": "code", "Key": "function.zip"}
        elif res.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = {"Bucket": "code", "Key": "layer.zip"}
        elif res.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props.pop("DefinitionUri")
            props["Definition"] = {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    return transform(sam, {"AWS::Region": region}, _NoManagedPolicies())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def grants_by_principal(cfn: dict) -> dict[str, dict[str, Any]]:
    """principal -> {"actions", "resources", "pairs", "denies", "managed"} of its role."""
    resources = cfn["Resources"]
    out: dict[str, dict[str, Any]] = {}
    for lid, res in resources.items():
        if res["Type"] not in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
            continue
        role_ref = res["Properties"].get("Role") or res["Properties"].get("RoleArn")
        role_id = role_ref["Fn::GetAtt"][0] if isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref else None
        role = resources.get(role_id, {}).get("Properties", {})
        statements: list[Statement] = []
        for policy in role.get("Policies", []):
            for written in _as_list(policy["PolicyDocument"].get("Statement")):
                s = dict(written)
                for key in ("Resource", "NotResource"):
                    if key in s:
                        s[key] = [_text(r) for r in _as_list(s[key])]
                statements.append(Statement.parse(policy["PolicyName"], s))
        managed = [_text(a).rsplit("/", 1)[-1].strip('"}') for a in role.get("ManagedPolicyArns", [])]
        own = {(g.action, g.resource) for s in statements for g in s.grants()}
        managed_pairs = {
            (g.action, g.resource)
            for name in managed
            for s in _as_list(managed_policy_document(name).get("Statement"))
            for g in Statement.parse(name, s).grants()
        }
        out[lid] = {
            "actions": len({a for a, _ in own}),
            "resources": len({r for _, r in own}),
            "pairs": len(own),
            "wildcards": sum(1 for _, r in own if "*" in r),
            "denies": sum(1 for s in statements if s.effect == "Deny"),
            "managed": managed,
            "managed_pairs": len(managed_pairs),
        }
    return out


def table(before: dict | None, after: dict) -> str:
    def cell(g: dict | None) -> str:
        if g is None:
            return "-"
        text = f"{g['actions']} actions, {g['resources']} resources, {g['pairs']} pairs"
        if g["wildcards"]:
            text += f" ({g['wildcards']} on a wildcard)"
        if g["denies"]:
            text += f", {g['denies']} deny"
        return text

    rows = (
        [("Function / state machine", "before", "after")]
        if before is not None
        else [("Function / state machine", "grants")]
    )
    for lid in sorted(set(after) | set(before or {})):
        if before is not None:
            rows.append((lid, cell(before.get(lid)), cell(after.get(lid))))
        else:
            rows.append((lid, cell(after.get(lid))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a git revision: compare with template.yaml there")
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    after = grants_by_principal(translated(Path(args.template).read_text()))
    before = None
    if args.before:
        # git from PATH, on the template at the revision the developer names
        show = ["git", "show", f"{args.before}:template.yaml"]
        text = subprocess.run(show, cwd=ROOT, check=True, capture_output=True, text=True).stdout  # noqa: S603
        before = grants_by_principal(translated(text))
    print(
        "The role's own statements (the AWS managed policies SAM attaches, the same before and after, are not counted:"
    )
    print("AWSLambdaBasicExecutionRole and AWSXrayWriteOnlyAccess; AWSLambdaSQSQueueExecutionRole on SQS triggers)")
    print(table(before, after))


if __name__ == "__main__":
    main()
