"""CloudFormation models for resource TYPES that moto's CloudFormation lacks but its APIs support.

Each model creates its resource through moto's backend (the same state the API sees), so ``Ref`` /
``Fn::GetAtt`` to it resolve during ``create_stack``. Types neither here nor in moto are skipped by
moto (with a note in ``LocalStack.notes``). Keyed by resource type only, never by a project resource.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any


class _Model:
    physical_resource_id: str

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return ""

    @classmethod
    def delete_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> None:
        return None


class SecretsManagerSecret(_Model):
    """AWS::SecretsManager::Secret: Ref = ARN; GetAtt Id."""

    def __init__(self, arn: str, name: str):
        self.arn = arn
        self.name = name
        self.physical_resource_id = arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id",)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.arn
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SecretsManagerSecret:
        from moto.secretsmanager.models import secretsmanager_backends

        props = cloudformation_json.get("Properties", {})
        name = props.get("Name") or resource_name
        value = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if value is None and generate is not None:
            value = _generate(generate)
        backend = secretsmanager_backends[account_id][region_name]
        backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(backend.secrets[name].arn, name)


def _generate(spec: dict) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    alphabet = "".join(c for c in alphabet if c not in (spec.get("ExcludeCharacters") or ""))
    password = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
        doc = json.loads(spec["SecretStringTemplate"])
        doc[spec["GenerateStringKey"]] = password
        return json.dumps(doc)
    return password


class SQSQueuePolicy(_Model):
    """AWS::SQS::QueuePolicy: sets the Policy attribute of each queue."""

    def __init__(self, physical_id: str):
        self.physical_resource_id = physical_id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SQSQueuePolicy:
        from moto.sqs.models import sqs_backends

        props = cloudformation_json.get("Properties", {})
        policy = props.get("PolicyDocument")
        backend = sqs_backends[account_id][region_name]
        for url in props.get("Queues", []):
            backend.set_queue_attributes(
                str(url).rstrip("/").rsplit("/", 1)[-1],
                {"Policy": policy if isinstance(policy, str) else json.dumps(policy)},
            )
        return cls(resource_name)


EXTRA_MODELS: dict[str, type] = {
    "AWS::SecretsManager::Secret": SecretsManagerSecret,
    "AWS::SQS::QueuePolicy": SQSQueuePolicy,
}
