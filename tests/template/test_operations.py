"""Operations in the template: alarms that reach a person, https-only URL parameters, capped queue concurrency."""

import re
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

TEMPLATE = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
PARAMETERS = TEMPLATE["Parameters"]
RESOURCES = TEMPLATE["Resources"]
TOPIC = {"Ref": "AlarmTopic"}


def _of_type(type_: str) -> dict:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == type_}


def _ref(value) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".", 1)[0]
    return None


def _allowed(parameter: str, value: str) -> bool:
    """CloudFormation's AllowedPattern check (the whole value must match)."""
    return re.fullmatch(PARAMETERS[parameter]["AllowedPattern"], value) is not None


ALARMS = {k: v["Properties"] for k, v in _of_type("AWS::CloudWatch::Alarm").items()}


def _watched(metric_name: str) -> set[str]:
    """Logical ids in the dimensions of alarms on `metric_name` (plain or metric math)."""
    out = set()
    for alarm in ALARMS.values():
        stats = [alarm] + [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
        for stat in stats:
            if stat.get("MetricName") == metric_name:
                out |= {_ref(d["Value"]) for d in stat.get("Dimensions", [])}
    return out


# --------------------------------------------------------------------------- alarms reach a person


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use():
    topic = RESOURCES["AlarmTopic"]["Properties"]
    key_id = _ref(topic["KmsMasterKeyId"])
    assert RESOURCES[key_id]["Type"] == "AWS::KMS::Key"
    statements = RESOURCES[key_id]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1 and cloudwatch[0]["Effect"] == "Allow"
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    admin = [s for s in statements if "AWS" in s["Principal"]]
    assert admin and admin[0]["Action"] == "kms:*"  # the account keeps control of its key


def test_an_alarm_email_is_subscribed_only_when_given():
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {"TopicArn": TOPIC, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    assert PARAMETERS["AlarmEmail"]["Default"] == ""
    for address in ("", "ops@example.com", "first.last+amazon@shop.example.co.uk"):
        assert _allowed("AlarmEmail", address), address
    for address in (
        "ops",
        "ops@",
        "@example.com",
        "ops@example",
        "ops@example.com, boss@example.com",
        " ops@example.com",
    ):
        assert not _allowed("AlarmEmail", address), address


def test_every_alarm_tells_the_topic_when_it_fires_and_when_it_clears():
    assert len(ALARMS) >= 20
    for logical_id, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == [TOPIC], logical_id
        assert alarm["OKActions"] == [TOPIC], logical_id
        if logical_id == "LwaClientSecretExpiringAlarm":
            # a day without the figure means the daily check did not run: the secret may expire unseen
            assert alarm["TreatMissingData"] == "breaching"
        else:
            # no data = nothing happened (no message, no invocation, no failure)
            assert alarm["TreatMissingData"] == "notBreaching", logical_id


def test_every_consumed_queue_alarms_on_its_oldest_message_and_every_dlq_on_its_depth():
    sources = {k for k, q in _of_type("AWS::SQS::Queue").items() if "RedrivePolicy" in q["Properties"]}
    dlqs = {_ref(RESOURCES[q]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]) for q in sources}
    dlqs |= {k for k in _of_type("AWS::SQS::Queue") if k.endswith("DeadLetterQueue")}
    assert sources and sources <= _watched("ApproximateAgeOfOldestMessage")
    assert dlqs <= _watched("ApproximateNumberOfMessagesVisible")
    for alarm in ALARMS.values():
        if alarm.get("MetricName") == "ApproximateAgeOfOldestMessage":
            assert alarm["Threshold"]["Ref"] in PARAMETERS
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_entry_point_functions_alarm_on_errors_and_throttles_and_the_workflow_on_failed_executions():
    functions = _of_type("AWS::Serverless::Function")
    entry_points = {k for k, f in functions.items() if f["Properties"].get("Events")}
    assert {"OrderNotificationIntakeFunction", "OrderSyncFunction", "OrdersViewFunction"} <= entry_points
    assert _watched("Errors") == entry_points
    assert _watched("Throttles") == entry_points
    # the workflow's task functions: retried and caught by the state machine, they end in a failed execution
    assert "MfnOrderStateMachine" in _watched("ExecutionsFailed")
    throttles = next(a for a in ALARMS.values() if "Metrics" in a)
    returned = [q for q in throttles["Metrics"] if q.get("ReturnData")]
    assert len(returned) == 1 and len(throttles["Metrics"]) <= 11  # CloudWatch: at most 10 metrics per alarm
    assert all(f"FILL({q['Id']}, 0)" in returned[0]["Expression"] for q in throttles["Metrics"] if "MetricStat" in q)


def test_the_channel_metrics_of_each_stack_are_its_own():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}
    for name in ("OrdersBlockedAlarm", "OrderSyncFailedAlarm"):
        assert ALARMS[name]["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]


def test_the_schedule_is_named_from_the_stack():
    event = RESOURCES["OrderSyncFunction"]["Properties"]["Events"]["Every"]
    assert event["Type"] == "ScheduleV2"
    assert "${AWS::StackName}" in event["Properties"]["Name"]["Fn::Sub"]


# --------------------------------------------------------------------------- URL parameters


URL_PARAMETERS = ("SpApiEndpoint", "LwaTokenUrl", "CommerceBaseUrl")


@pytest.mark.parametrize("parameter", URL_PARAMETERS)
def test_url_parameters_take_https_or_nothing(parameter):
    assert _allowed(parameter, PARAMETERS[parameter]["Default"])
    for url in (
        "",
        "https://sellingpartnerapi-eu.amazon.com",
        "https://api.amazon.co.uk/auth/o2/token",
        "https://shop.example.com:8443/store",
        "https://shop.example.com/",
    ):
        assert _allowed(parameter, url), url
    for url in (
        "http://shop.example.com",
        "http://127.0.0.1:4568",
        "shop.example.com",
        "ftp://shop.example.com",
        "https://",
        "https://user:pass@shop.example.com",
        "https://shop.example.com/?redirect=evil",
        "https://shop.example.com#x",
        " https://shop.example.com",
        "https://shop.example.com /x",
    ):
        assert not _allowed(parameter, url), url


def test_the_local_endpoint_parameter_can_only_point_at_the_function_itself():
    assert _allowed("LocalEndpointUrl", "")
    for url in ("http://127.0.0.1:4566", "http://localhost:4566", "http://127.0.0.1:4566/"):
        assert _allowed("LocalEndpointUrl", url), url
    for url in ("https://aws.example.com", "http://10.0.0.5:4566", "http://127.0.0.1.example.com:4566"):
        assert not _allowed("LocalEndpointUrl", url), url


# --------------------------------------------------------------------------- concurrency


def test_every_queue_consumer_is_capped_by_one_parameter():
    parameter = PARAMETERS["QueueMaximumConcurrency"]
    assert parameter["MinValue"] == 2 and parameter["MaxValue"] == 1000  # Lambda's bounds
    assert 2 <= parameter["Default"] <= 10
    events = [
        e
        for f in _of_type("AWS::Serverless::Function").values()
        for e in f["Properties"].get("Events", {}).values()
        if e["Type"] == "SQS"
    ]
    assert len(events) == 5
    for event in events:
        assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "QueueMaximumConcurrency"}}
