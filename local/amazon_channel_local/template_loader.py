"""Turn the project's SAM template into a CloudFormation template that moto can create.

Everything is read from the template itself (no hand-kept list of the project's resources):

* every ``AWS::Serverless::Function`` CodeUri and ``AWS::Serverless::LayerVersion`` ContentUri
  (local folders) is zipped, uploaded to a moto S3 bucket and replaced by its S3 location;
* every ``AWS::Serverless::StateMachine`` DefinitionUri (a local ASL file) is inlined as Definition;
* the template is translated with samtranslator (the library behind ``sam validate``);
* moto ignores ``DefinitionSubstitutions``, so the translated ``DefinitionString`` is rewritten
  as an ``Fn::Join`` whose pieces are the substitution values (intrinsics that moto resolves);
* event source mappings are created disabled (moto would consume messages with an echoing fake
  Lambda); the local stack polls them itself (see ``EventSourceMappingSpec``).
"""

from __future__ import annotations

import copy
import importlib.metadata
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .disk_cache import cached_json

log = logging.getLogger(__name__)

_SUB_VAR = re.compile(r"\$\{([^}]+)\}")


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str


@dataclass
class EventSourceMappingSpec:
    logical_id: str
    function_logical_id: str | None
    event_source_logical_id: str | None
    batch_size: int
    function_response_types: list[str]
    enabled: bool


@dataclass
class LoadedTemplate:
    cfn: dict[str, Any]  # translated CloudFormation, ready for create_stack
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    layer_dirs: list[Path] = field(default_factory=list)
    event_source_mappings: list[EventSourceMappingSpec] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)  # logical id -> type moto can't create
    sam_resource_ids: list[str] = field(default_factory=list)


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def zip_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".pyc"):
                zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()


def _ref_id(value: Any) -> str | None:
    """Logical id referenced by a ``Ref`` or ``Fn::GetAtt`` (either form), else None."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else str(att).split(".")[0]
    return None


def _flatten_join(value: Any) -> Any:
    """Collapse an all-string ``Fn::Join`` (as samtranslator emits for DefinitionString)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and list(value) == ["Fn::Join"]:
        sep, parts = value["Fn::Join"]
        if all(isinstance(p, str) for p in parts):
            return sep.join(parts)
    return None


def _substituted_definition(definition: str, substitutions: dict[str, Any]) -> Any:
    """``Fn::Join`` pieces of ``definition`` with ``${Name}`` replaced by its substitution value.

    Implements DefinitionSubstitutions for moto (which ignores them) without ``Fn::Sub``, whose
    moto implementation uses ``string.Template`` and would turn ASL's ``$$.Task.Token`` into
    ``$.Task.Token``. ``${!Literal}`` becomes ``${Literal}``; unknown names are left as they are.
    """
    pieces: list[Any] = []
    pos = 0
    for m in _SUB_VAR.finditer(definition):
        name = m.group(1)
        if name.startswith("!"):
            replacement: Any = "${" + name[1:] + "}"
        elif name in substitutions:
            replacement = substitutions[name]
        else:
            continue
        pieces.append(definition[pos : m.start()])
        pieces.append(replacement if not isinstance(replacement, (int, float, bool)) else json.dumps(replacement))
        pos = m.end()
    pieces.append(definition[pos:])
    merged: list[Any] = []
    for p in pieces:
        if p == "":
            continue
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    pieces = merged
    if all(isinstance(p, str) for p in pieces):
        return "".join(pieces)
    return {"Fn::Join": ["", pieces]}


def _load_definition(path: Path) -> Any:
    text = path.read_text()
    if path.suffix.lower() == ".json":
        return json.loads(text)
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(text)


def _translator() -> str:
    return importlib.metadata.version("aws-sam-translator")


def _parsed(template_path: Path) -> dict[str, Any]:
    """The SAM template as data (SAM's own YAML reader, which knows the short forms like !Ref)."""
    text = template_path.read_text()

    def parse() -> Any:
        from samtranslator.yaml_helper import yaml_parse

        return yaml_parse(text)

    return copy.deepcopy(cached_json("sam-template", [text, _translator()], parse))


def _transform(sam: dict[str, Any], params: dict[str, str]) -> Any:
    """The CloudFormation template SAM's translator makes of `sam` (as `sam build`/`deploy` would)."""
    from samtranslator.translator.transform import transform

    sam_logger = logging.getLogger("samtranslator")
    level = sam_logger.level
    sam_logger.setLevel(logging.ERROR)  # "unpublished metrics" warnings on every translation
    try:
        return transform(copy.deepcopy(sam), params, _NoManagedPolicies())
    finally:
        sam_logger.setLevel(level)


def load_template(
    template_path: Path,
    parameter_values: dict[str, str],
    upload: Any,  # callable(key: str, data: bytes) -> (bucket, key)
    region: str,
) -> LoadedTemplate:
    base = template_path.parent
    sam = _parsed(template_path)
    resources: dict[str, Any] = sam.get("Resources", {})
    globals_fn = (sam.get("Globals") or {}).get("Function") or {}

    uploaded: dict[Path, dict[str, str]] = {}

    def s3_location(folder: Path) -> dict[str, str]:
        folder = folder.resolve()
        if folder not in uploaded:
            key = f"{len(uploaded):03d}-{folder.name}.zip"
            bucket, key = upload(key, zip_folder(folder) if folder.is_dir() else folder.read_bytes())
            uploaded[folder] = {"Bucket": bucket, "Key": key}
        return uploaded[folder]

    functions: dict[str, FunctionSpec] = {}
    layer_dirs: list[Path] = []
    if isinstance(globals_fn.get("CodeUri"), str):
        # a global CodeUri: every function without its own shares it
        globals_fn["CodeUri"] = s3_location(base / globals_fn["CodeUri"])
    for logical_id, res in resources.items():
        rtype = res.get("Type")
        props = res.setdefault("Properties", {}) if isinstance(res, dict) else {}
        if rtype == "AWS::Serverless::Function":
            code_uri = props.get("CodeUri", globals_fn.get("CodeUri"))
            handler = props.get("Handler", globals_fn.get("Handler"))
            if isinstance(code_uri, str):
                functions[logical_id] = FunctionSpec(logical_id, (base / code_uri).resolve(), handler)
                props["CodeUri"] = s3_location(base / code_uri)
            elif props.get("InlineCode") is None:
                log.warning(
                    "function %s: CodeUri %r is not a local folder; it cannot run locally", logical_id, code_uri
                )
        elif rtype == "AWS::Serverless::LayerVersion":
            content_uri = props.get("ContentUri")
            if isinstance(content_uri, str):
                layer_dirs.append((base / content_uri).resolve())
                props["ContentUri"] = s3_location(base / content_uri)
        elif rtype == "AWS::Serverless::StateMachine":
            uri = props.get("DefinitionUri")
            if isinstance(uri, str):
                props.pop("DefinitionUri")
                props["Definition"] = _load_definition(base / uri)

    sam_ids = list(resources)
    params = {"AWS::Region": region, **parameter_values}
    cfn = copy.deepcopy(cached_json("sam-transform", [sam, params, _translator()], lambda: _transform(sam, params)))

    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    from .cfn_models import EXTRA_MODELS

    supported = set(get_model_map()) | set(NULL_MODELS) | set(EXTRA_MODELS)
    loaded = LoadedTemplate(cfn=cfn, functions=functions, layer_dirs=layer_dirs, sam_resource_ids=sam_ids)
    for logical_id, res in cfn.get("Resources", {}).items():
        rtype = res.get("Type", "")
        props = res.get("Properties", {})
        if rtype not in supported and not rtype.startswith("Custom::"):
            loaded.unsupported[logical_id] = rtype
        if rtype == "AWS::StepFunctions::StateMachine" and "DefinitionSubstitutions" in props:
            definition = _flatten_join(props.get("DefinitionString"))
            if definition is None and isinstance(props.get("Definition"), dict):
                definition = json.dumps(props.pop("Definition"), indent=2)
            if definition is not None:
                props["DefinitionString"] = _substituted_definition(definition, props.pop("DefinitionSubstitutions"))
            else:
                log.warning("state machine %s: DefinitionSubstitutions not applied (unsupported form)", logical_id)
        elif rtype == "AWS::StepFunctions::StateMachine" and isinstance(props.get("Definition"), dict):
            props["DefinitionString"] = json.dumps(props.pop("Definition"), indent=2)
        elif rtype == "AWS::Lambda::EventSourceMapping":
            enabled = props.get("Enabled", True)
            loaded.event_source_mappings.append(
                EventSourceMappingSpec(
                    logical_id=logical_id,
                    function_logical_id=_ref_id(props.get("FunctionName")),
                    event_source_logical_id=_ref_id(props.get("EventSourceArn")),
                    batch_size=int(props.get("BatchSize") or 10),
                    function_response_types=list(props.get("FunctionResponseTypes") or []),
                    enabled=enabled not in (False, "false", "False"),
                )
            )
            props["Enabled"] = False  # the local stack polls; moto's own poller must not
    for logical_id, rtype in loaded.unsupported.items():
        log.info("moto cannot create %s (%s); it is skipped", logical_id, rtype)
    return loaded
