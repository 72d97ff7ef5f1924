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


class _NamedWithArn(_Model):
    """A resource whose Ref is its name and whose one attribute is its Arn."""

    def __init__(self, name: str, arn: str):
        self.name = name
        self.arn = arn
        self.physical_resource_id = name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        return super().get_cfn_attribute(attribute_name)


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


class SchedulerSchedule(_NamedWithArn):
    """AWS::Scheduler::Schedule: Ref = name; GetAtt Arn. Created (not run: moto's scheduler never fires).

    EventBridge Scheduler refuses a second schedule of the same name in a group, as moto's backend does:
    so two stacks with a fixed schedule name fail here as on AWS (aws/serverless-application-model#3109).
    """

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerSchedule:
        from moto.scheduler.models import scheduler_backends

        props = cloudformation_json.get("Properties", {})
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=props.get("Description"),
            end_date=props.get("EndDate"),
            flexible_time_window=props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
            group_name=props.get("GroupName"),
            kms_key_arn=props.get("KmsKeyArn"),
            name=props.get("Name") or resource_name,
            schedule_expression=props.get("ScheduleExpression"),
            schedule_expression_timezone=props.get("ScheduleExpressionTimezone"),
            start_date=props.get("StartDate"),
            state=props.get("State"),
            target=props.get("Target"),
            action_after_completion=None,
        )
        return cls(schedule.name, schedule.arn)


class CloudWatchAlarm(_NamedWithArn):
    """AWS::CloudWatch::Alarm: Ref = name (AlarmName, else generated from the stack); GetAtt Arn. Not evaluated."""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CloudWatchAlarm:
        from moto.cloudwatch.models import (
            Dimension,
            Metric,
            MetricDataQuery,
            MetricStat,
            cloudwatch_backends,
        )

        props = cloudformation_json.get("Properties", {})
        queries = None
        if props.get("Metrics"):
            queries = []
            for q in props["Metrics"]:
                stat = q.get("MetricStat")
                metric_stat = None
                if stat:
                    m = stat["Metric"]
                    dims = [Dimension(d["Name"], d["Value"]) for d in m.get("Dimensions", [])]
                    metric_stat = MetricStat(
                        Metric(m["MetricName"], m["Namespace"], dims),
                        stat.get("Period"),
                        stat.get("Stat"),
                        stat.get("Unit"),
                    )
                queries.append(
                    MetricDataQuery(
                        q["Id"],
                        q.get("Label"),
                        q.get("Period"),
                        q.get("ReturnData"),
                        expression=q.get("Expression"),
                        metric_stat=metric_stat,
                    )
                )
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=props.get("AlarmName") or resource_name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props.get("ComparisonOperator"),
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props["Period"]) if props.get("Period") is not None else None,
            threshold=float(props["Threshold"]),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            metric_data_queries=queries,
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            extended_statistic=props.get("ExtendedStatistic"),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(alarm.name, alarm.alarm_arn)


class SNSSubscription(_Model):
    """AWS::SNS::Subscription: Ref = subscription ARN (an email one stays pending until confirmed)."""

    def __init__(self, arn: str):
        self.physical_resource_id = arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SNSSubscription:
        from moto.sns.models import sns_backends

        props = cloudformation_json.get("Properties", {})
        sub = sns_backends[account_id][region_name].subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        return cls(sub.arn)


def _cognito(account_id: str, region_name: str) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[account_id][region_name]


class CognitoUserPool(_Model):
    """AWS::Cognito::UserPool: Ref = pool id; GetAtt Arn, ProviderName, ProviderURL."""

    def __init__(self, pool: Any):
        self.pool = pool
        self.physical_resource_id = pool.id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        provider = f"cognito-idp.{self.pool.region}.amazonaws.com/{self.pool.id}"
        values = {"Arn": self.pool.arn, "ProviderName": provider, "ProviderURL": f"https://{provider}"}
        values["UserPoolId"] = self.pool.id
        if attribute_name in values:
            return values[attribute_name]
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CognitoUserPool:
        props = dict(cloudformation_json.get("Properties", {}))
        name = props.pop("UserPoolName", resource_name)
        return cls(_cognito(account_id, region_name).create_user_pool(name, props))


class CognitoUserPoolClient(_Model):
    """AWS::Cognito::UserPoolClient: Ref = client id."""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CognitoUserPoolClient:
        props = dict(cloudformation_json.get("Properties", {}))
        pool_id = props.pop("UserPoolId")
        secret = bool(props.pop("GenerateSecret", False))
        client = _cognito(account_id, region_name).create_user_pool_client(pool_id, secret, props)
        model = cls()
        model.physical_resource_id = client.id
        return model


class CognitoUserPoolDomain(_Model):
    """AWS::Cognito::UserPoolDomain: Ref = the domain (prefix)."""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CognitoUserPoolDomain:
        props = cloudformation_json.get("Properties", {})
        _cognito(account_id, region_name).create_user_pool_domain(props["UserPoolId"], props["Domain"])
        model = cls()
        model.physical_resource_id = props["Domain"]
        return model


class CognitoUserPoolGroup(_Model):
    """AWS::Cognito::UserPoolGroup: Ref = the group's name."""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CognitoUserPoolGroup:
        props = cloudformation_json.get("Properties", {})
        name = props.get("GroupName", resource_name)
        _cognito(account_id, region_name).create_group(
            props["UserPoolId"], name, props.get("Description", ""), props.get("RoleArn"), props.get("Precedence")
        )
        model = cls()
        model.physical_resource_id = name
        return model


EXTRA_MODELS: dict[str, type] = {
    "AWS::SecretsManager::Secret": SecretsManagerSecret,
    "AWS::SQS::QueuePolicy": SQSQueuePolicy,
    "AWS::Scheduler::Schedule": SchedulerSchedule,
    "AWS::CloudWatch::Alarm": CloudWatchAlarm,
    "AWS::SNS::Subscription": SNSSubscription,
    "AWS::Cognito::UserPool": CognitoUserPool,
    "AWS::Cognito::UserPoolClient": CognitoUserPoolClient,
    "AWS::Cognito::UserPoolDomain": CognitoUserPoolDomain,
    "AWS::Cognito::UserPoolGroup": CognitoUserPoolGroup,
}
