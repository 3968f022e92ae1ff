"""The CloudFormation template `make package` writes: the whole stack, lint-clean."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from chalice import IAMAuthorizer

from chalicelib.prediction import RAW_IMAGE_TYPES
from stack.policy import policy_path, stage_environment
from tests.package.conftest import build, copy_project

PROD = stage_environment("prod")
PROBE_ROUTE = "/packaging-probe"
# An IAM-secured route and an SQS handler of its own, added to a copy of the
# app, so the template checks do not hang on which routes the app has today.
PROBE_CODE = f'''

from chalice import IAMAuthorizer as _ProbeIAMAuthorizer


@app.route("{PROBE_ROUTE}", methods=["GET"], authorizer=_ProbeIAMAuthorizer())
def packaging_probe() -> dict:
    return {{}}


@app.on_sqs_message(queue="{PROD['BLOBS_QUEUE']}")
def packaging_probe_events(event) -> None:
    return None
'''


@pytest.fixture(scope="module")
def probe_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("probe")
    project_dir = copy_project(root / "project", extra_app_code=PROBE_CODE)
    try:
        build(project_dir, root / "package", vendor=False)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"chalice package failed:\n{error.stdout}\n{error.stderr}")
    return json.loads((root / "package" / "sam.json").read_text())


@pytest.fixture(scope="module")
def template(lambda_package) -> dict:
    return json.loads(lambda_package.template.read_text())


def lint_errors(template_path: Path) -> list[str]:
    from cfnlint.api import lint_file

    return [str(match) for match in lint_file(template_path)
            if match.rule.id.startswith("E")]


def test_cfn_lint_finds_no_error_in_the_packaged_template(lambda_package):
    assert lint_errors(lambda_package.template) == []


def test_cfn_lint_finds_no_error_with_iam_routes_and_sqs_handlers(probe_template, tmp_path):
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(probe_template))
    assert lint_errors(path) == []


def swagger(template: dict) -> dict:
    return template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


def test_api_takes_multipart_and_image_bodies_as_binary(template):
    media_types = swagger(template)["x-amazon-apigateway-binary-media-types"]
    assert {"multipart/form-data", *RAW_IMAGE_TYPES} <= set(media_types)


def test_iam_routes_require_sigv4_and_the_others_do_not(probe_template):
    from app import app

    iam_routes = {(PROBE_ROUTE, "get")} | {
        (path, method.lower()) for path, methods in app.routes.items()
        for method, entry in methods.items() if isinstance(entry.authorizer, IAMAuthorizer)}
    definition = swagger(probe_template)
    sigv4 = {name for name, scheme in definition.get("securityDefinitions", {}).items()
             if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"}
    for path, operations in definition["paths"].items():
        for method, operation in operations.items():
            if method == "options":
                continue
            schemes = {name for entry in operation.get("security", []) for name in entry}
            assert (schemes & sigv4 != set()) == ((path, method) in iam_routes), (path, method)


def test_the_stack_holds_bucket_queue_dlq_tables_and_their_wiring(template):
    resources = template["Resources"]
    defaults = {name: parameter["Default"]
                for name, parameter in template["Parameters"].items()}
    assert {name: defaults[name] for name in ("BlobsBucketName", "BlobsTableName",
                                              "BlobsQueueName", "BlobsDeadLetterQueueName",
                                              "UsersTableName", "BlobsVisibilityTimeout",
                                              "AppStage", "MetricsNamespace",
                                              "AlarmTopicArn")} == {
        "BlobsBucketName": PROD["BLOBS_BUCKET"], "BlobsTableName": PROD["BLOBS_TABLE"],
        "BlobsQueueName": PROD["BLOBS_QUEUE"], "BlobsDeadLetterQueueName": PROD["BLOBS_DLQ"],
        "UsersTableName": json.loads(PROD["RESOURCES"])["users"]["table"],
        "AppStage": "prod", "MetricsNamespace": PROD["METRICS_NAMESPACE"], "AlarmTopicArn": "",
        "BlobsVisibilityTimeout": PROD["BLOBS_VISIBILITY_TIMEOUT"]}
    [notification] = resources["BlobsBucket"]["Properties"]["NotificationConfiguration"][
        "QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": ["BlobEventsQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix",
                                                         "Value": "uploads/"}]
    assert "BlobEventsQueuePolicy" in resources["BlobsBucket"]["DependsOn"]
    [statement] = resources["BlobEventsQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"]
    assert (statement["Principal"], statement["Action"]) == (
        {"Service": "s3.amazonaws.com"}, "sqs:SendMessage")
    redrive = resources["BlobEventsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["BlobEventsDeadLetterQueue", "Arn"]}
    assert resources["BlobsTable"]["Properties"]["TableName"] == {"Ref": "BlobsTableName"}
    assert resources["UsersTable"]["Properties"]["TableName"] == {"Ref": "UsersTableName"}
    assert resources["APIHandler"]["Type"] == "AWS::Serverless::Function"
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"


def test_the_role_carries_the_committed_policy(template):
    role = template["Resources"]["DefaultRole"] if "DefaultRole" in template[
        "Resources"] else template["Resources"]["ApiHandlerRole"]
    [policy] = role["Properties"]["Policies"]
    assert policy["PolicyDocument"] == json.loads(policy_path("prod").read_text())


def test_sqs_handlers_wait_for_their_queue_and_poll_it(probe_template):
    function = probe_template["Resources"]["PackagingProbeEvents"]
    assert "BlobEventsQueue" in function["DependsOn"]
    [event] = function["Properties"]["Events"].values()
    assert event["Type"] == "SQS"
    assert PROD["BLOBS_QUEUE"] in json.dumps(event["Properties"]["Queue"])


def test_both_queue_handlers_have_their_partial_batch_responses_read(template):
    # Without ReportBatchItemFailures Lambda ignores a handler's list of
    # messages to retry and deletes the whole batch: a failed label is lost.
    for function, queue in (("HandleBlobEvent", PROD["BLOBS_QUEUE"]),
                            ("HandleDeadBlobEvent", PROD["BLOBS_DLQ"])):
        [event] = template["Resources"][function]["Properties"]["Events"].values()
        assert queue in json.dumps(event["Properties"]["Queue"])
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


ALARMS = {
    "Api5xxRateAlarm": "Errors5xx",
    "PredictLatencyP99Alarm": "Latency",
    "LambdaErrorsAlarm": "Errors",
    "LambdaThrottlesAlarm": "Throttles",
    "DeadLetterQueueDepthAlarm": "ApproximateNumberOfMessagesVisible",
    "OldestUploadEventAgeAlarm": "ApproximateAgeOfOldestMessage",
}


def alarm_metrics(alarm: dict) -> list[dict]:
    """The metrics an alarm watches, whether single or in metric math."""
    properties = alarm["Properties"]
    if "Metrics" in properties:
        return [query["MetricStat"]["Metric"] for query in properties["Metrics"]
                if "MetricStat" in query]
    return [{key: properties[key] for key in ("Namespace", "MetricName", "Dimensions")}]


def test_the_alarms_watch_the_apps_metrics_the_functions_and_the_queues(probe_template):
    resources = probe_template["Resources"]
    for name, metric_name in ALARMS.items():
        assert resources[name]["Type"] == "AWS::CloudWatch::Alarm"
        assert metric_name in {metric["MetricName"] for metric in alarm_metrics(resources[name])}
    functions = {json.dumps(metric["Dimensions"]) for metric in alarm_metrics(
        resources["LambdaErrorsAlarm"])}
    # Named as `chalice deploy` names them; the packaged functions take the same names.
    stage = probe_template["Parameters"]["AppStage"]["Default"]
    names = {"APIHandler": "chalice-reference-api-${AppStage}",
             "HandleBlobEvent": "chalice-reference-api-${AppStage}-handle_blob_event"}
    assert functions == {json.dumps([{"Name": "FunctionName", "Value": {"Fn::Sub": name}}])
                         for name in names.values()}
    for logical_id, name in names.items():
        assert resources[logical_id]["Properties"]["FunctionName"] == name.replace(
            "${AppStage}", stage)
    [latency] = alarm_metrics(resources["PredictLatencyP99Alarm"])
    assert {"Name": "route", "Value": "/predict"} in latency["Dimensions"]
    assert resources["PredictLatencyP99Alarm"]["Properties"]["ExtendedStatistic"] == "p99"
    [depth] = alarm_metrics(resources["DeadLetterQueueDepthAlarm"])
    assert depth["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["BlobEventsDeadLetterQueue", "QueueName"]}
    assert resources["DeadLetterQueueDepthAlarm"]["Properties"]["Threshold"] == 0


def test_alarms_notify_the_sns_topic_only_when_one_is_given(probe_template):
    notify = {"Fn::If": ["NotifyAlarmTopic", [{"Ref": "AlarmTopicArn"}],
                         {"Ref": "AWS::NoValue"}]}
    for name in ALARMS:
        properties = probe_template["Resources"][name]["Properties"]
        assert properties["AlarmActions"] == properties["OKActions"] == notify
    assert probe_template["Conditions"]["NotifyAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}


def test_one_dashboard_shows_the_alarms_and_the_custom_metrics(probe_template):
    from chalicelib.observability import emf

    dashboard = probe_template["Resources"]["OperationsDashboard"]
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    [alarms] = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    assert len(alarms["properties"]["alarms"]) == len(ALARMS)
    shown = {line[1] for widget in body["widgets"] if widget["type"] == "metric"
             for line in widget["properties"]["metrics"]}
    fields = {"status": 500, "latency_ms": 1.0, "images": 2, "model_ms": 1.0,
              "outcome": "retry", "time_to_label_ms": 1.0, "callback": "delivered"}
    custom = {*emf.request_metrics(fields), *emf.message_metrics(fields),
              "MessagesDeadLettered"} - {"Requests", "Messages"}
    assert custom <= shown


def test_the_functions_are_traced_by_x_ray(probe_template):
    for name in ("APIHandler", "PackagingProbeEvents"):
        assert probe_template["Resources"][name]["Properties"]["Tracing"] == "Active"
