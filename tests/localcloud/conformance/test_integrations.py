"""Service integrations, and the Lambda invoke result.

Sources: the developer guide pages on the AWS SDK service integrations, "Send messages
to Amazon SQS", "Add EventBridge events", "Invoke an AWS Lambda function", "Wait for a
callback with the task token", the Lambda API reference (Invoke's response) and the SQS
API reference (SendMessage's response).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.conformance.conftest import Runner, chain, single

BUCKET = "conformance-integrations"
TABLE = "conformance-items"


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="notes/hello.txt", Body=b"hello from s3")
    return BUCKET


@pytest.fixture(scope="module")
def table(cloud: LocalCloud) -> str:
    cloud.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return TABLE


@pytest.fixture(scope="module")
def queue(cloud: LocalCloud) -> str:
    return str(cloud.client("sqs").create_queue(QueueName="conformance-integrations")["QueueUrl"])


@pytest.fixture(scope="module")
def function(cloud: LocalCloud) -> str:
    """A Python function that answers {"got": <its event>}."""
    role = cloud.client("iam").create_role(RoleName="conformance-lambda", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {'got': event}\n")
    created = cloud.client("lambda").create_function(
        FunctionName="conformance-echo",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return str(created["FunctionArn"])


def received(cloud: LocalCloud, url: str, timeout: float = 10) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if messages:
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return list(messages)
    return []


def task(resource: str, parameters: dict[str, Any], **state: Any) -> dict[str, Any]:
    return single({"Type": "Task", "Resource": resource, "Parameters": parameters, **state})


def test_s3_get_object_returns_the_object_text_as_body(run: Runner, bucket: str) -> None:
    """aws-sdk:s3:getObject: the result is GetObject's response, Body the object's text (SDK integrations)."""
    result = run(
        task("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": bucket, "Key": "notes/hello.txt"}), {}
    )
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output["Body"] == "hello from s3"
    assert result.output["ContentLength"] == len(b"hello from s3")


def test_dynamodb_put_item_through_the_sdk_integration_stores_the_item(
    run: Runner, cloud: LocalCloud, table: str
) -> None:
    """aws-sdk:dynamodb:putItem calls PutItem with the Parameters as its request (SDK integrations)."""
    parameters = {"TableName": table, "Item": {"pk": {"S": "sdk"}, "n": {"N.$": "States.Format('{}', $.n)"}}}
    result = run(task("arn:aws:states:::aws-sdk:dynamodb:putItem", parameters), {"n": 7})
    assert result.status == "SUCCEEDED", result.summary()
    item = cloud.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "sdk"}})["Item"]
    assert item == {"pk": {"S": "sdk"}, "n": {"N": "7"}}


def test_dynamodb_put_item_through_the_optimized_integration_stores_the_item(
    run: Runner, cloud: LocalCloud, table: str
) -> None:
    """arn:aws:states:::dynamodb:putItem calls PutItem (developer guide, DynamoDB integration)."""
    parameters = {"TableName": table, "Item": {"pk": {"S": "optimized"}, "who.$": "$.who"}}
    result = run(task("arn:aws:states:::dynamodb:putItem", parameters), {"who": {"S": "ada"}})
    assert result.status == "SUCCEEDED", result.summary()
    item = cloud.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "optimized"}})["Item"]
    assert item == {"pk": {"S": "optimized"}, "who": {"S": "ada"}}


def test_sqs_send_message_sends_and_returns_its_message_id_and_md5(
    run: Runner, cloud: LocalCloud, queue: str
) -> None:
    """sqs:sendMessage: the message is sent; the result has MessageId and MD5OfMessageBody (SQS API)."""
    result = run(
        task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": queue, "MessageBody.$": "$.body"}),
        {"body": "hi"},
    )
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output["MD5OfMessageBody"] == hashlib.md5(b"hi").hexdigest()
    [message] = received(cloud, queue)
    assert (message["Body"], message["MessageId"]) == ("hi", result.output["MessageId"])


def test_events_put_events_puts_the_event_on_the_bus(run: Runner, cloud: LocalCloud) -> None:
    """events:putEvents: the entry reaches the bus; the result has Entries with EventId (EventBridge)."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="conformance-bus")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="conformance", EventPattern=json.dumps({"source": ["conformance.test"]}))
    events.put_targets(Rule="conformance", Targets=[{"Id": "queue", "Arn": arn}])
    entries = [{"Source": "conformance.test", "DetailType": "tested", "Detail": {"message.$": "$.message"}}]
    result = run(task("arn:aws:states:::events:putEvents", {"Entries": entries}), {"message": "hello"})
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output["FailedEntryCount"] == 0
    [entry] = result.output["Entries"]
    [message] = received(cloud, url)
    event = json.loads(message["Body"])
    assert (event["id"], event["detail-type"], event["detail"]) == (
        entry["EventId"],
        "tested",
        {"message": "hello"},
    )


def test_lambda_invoke_result_carries_payload_status_code_and_executed_version(
    run: Runner, function: str
) -> None:
    """lambda:invoke: the result is Invoke's response: Payload, StatusCode, ExecutedVersion (Lambda API)."""
    result = run(
        task("arn:aws:states:::lambda:invoke", {"FunctionName": function, "Payload.$": "$"}), {"a": 1}
    )
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output["Payload"] == {"got": {"a": 1}}
    assert (result.output["StatusCode"], result.output["ExecutedVersion"]) == (200, "$LATEST")


def test_a_lambda_arn_resource_passes_the_input_and_returns_the_function_result(
    run: Runner, function: str
) -> None:
    """A Lambda ARN as Resource: the input is the payload, the result the function's (developer guide)."""
    result = run(single({"Type": "Task", "Resource": function}), {"a": 2})
    assert (result.status, result.output) == ("SUCCEEDED", {"got": {"a": 2}}), result.summary()


def test_a_jsonata_task_takes_arguments_and_shapes_its_output_from_the_result(
    run: Runner, cloud: LocalCloud, queue: str
) -> None:
    """JSONata Task: Arguments are the request; Output reads $states.result (ASL spec, Task State)."""
    state = {
        "Type": "Task",
        "QueryLanguage": "JSONata",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Arguments": {"QueueUrl": queue, "MessageBody": "{% 'hello ' & $states.input.who %}"},
        "Output": {"md5": "{% $states.result.MD5OfMessageBody %}", "who": "{% $states.input.who %}"},
    }
    result = run(single(state), {"who": "ada"})
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output == {"md5": hashlib.md5(b"hello ada").hexdigest(), "who": "ada"}
    assert [m["Body"] for m in received(cloud, queue)] == ["hello ada"]


def test_a_task_assign_reads_the_result_as_dollar(run: Runner, cloud: LocalCloud, queue: str) -> None:
    """Task Assign: in a JSONPath Task's top-level Assign, $ is the result (ASL spec, Using Assign)."""
    definition = {
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": queue, "MessageBody": "assigned"},
                "ResultPath": None,
                "Assign": {"sent.$": "$.MessageId"},
                "Next": "Read",
            },
            "Read": {"Type": "Pass", "Parameters": {"sent.$": "$sent", "input.$": "$"}, "End": True},
        },
    }
    result = run(definition, {"a": 1})
    assert result.status == "SUCCEEDED", result.summary()
    [message] = received(cloud, queue)
    assert result.output == {"sent": message["MessageId"], "input": {"a": 1}}


def callback(cloud: LocalCloud, queue: str) -> str:
    """The task token the callback task sent to the queue."""
    [message] = received(cloud, queue, timeout=20)
    return str(json.loads(message["Body"])["token"])


WAIT_FOR_TOKEN = {
    "Type": "Task",
    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "TimeoutSeconds": 120,
}


def test_send_task_success_output_is_the_callback_task_result(
    run: Runner, cloud: LocalCloud, queue: str
) -> None:
    """.waitForTaskToken: SendTaskSuccess's output becomes the task's result (developer guide, callbacks)."""
    state = {**WAIT_FOR_TOKEN, "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}}
    arn = run.start(run.create(single({**state, "ResultPath": "$.decision"})), {"id": 1})
    cloud.client("stepfunctions").send_task_success(
        taskToken=callback(cloud, queue), output='{"approved": true}'
    )
    result = run.finish(arn)
    assert (result.status, result.output) == ("SUCCEEDED", {"id": 1, "decision": {"approved": True}}), (
        result.summary()
    )


def test_send_task_success_with_output_that_is_not_json_is_refused_and_the_task_still_waits(
    run: Runner, cloud: LocalCloud, queue: str
) -> None:
    """SendTaskSuccess: output is the task's JSON output; InvalidOutput when it is not valid (API ref)."""
    state = {**WAIT_FOR_TOKEN, "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}}
    arn = run.start(run.create(single({**state, "ResultPath": "$.decision"})), {"id": 2})
    token, sfn = callback(cloud, queue), cloud.client("stepfunctions")
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=token, output="approved")
    assert refused.value.response["Error"]["Code"] == "InvalidOutput"
    # the refusal changed nothing: the task waits, and a JSON answer still ends it
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=token, output='"approved"')
    result = run.finish(arn)
    assert (result.status, result.output) == ("SUCCEEDED", {"id": 2, "decision": "approved"}), (
        result.summary()
    )


def test_send_task_failure_fails_the_callback_task_with_its_error_and_cause(
    run: Runner, cloud: LocalCloud, queue: str
) -> None:
    """.waitForTaskToken: SendTaskFailure's error and cause fail the task (developer guide, callbacks)."""
    state = {**WAIT_FOR_TOKEN, "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}}
    arn = run.start(run.create(single(state)), {})
    cloud.client("stepfunctions").send_task_failure(
        taskToken=callback(cloud, queue), error="Rejected", cause="a person said no"
    )
    result = run.finish(arn)
    assert (result.status, result.error, result.cause) == ("FAILED", "Rejected", "a person said no"), (
        result.summary()
    )


def test_a_lambda_service_error_without_a_request_id_is_still_lambda_and_its_code(
    run: Runner, function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Lambda errors are reported as Lambda.<ErrorName>", which a Catch names (developer guide, *Handle
    Lambda service exceptions*): also when the service's answer carried no request id."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    def throttled(*args: Any, **kwargs: Any) -> None:
        error = {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}
        raise ClientError({"Error": error}, "Invoke")  # no ResponseMetadata

    monkeypatch.setattr(lambda_eval_utils, "execute_lambda_function_integration", throttled)
    caught = {"ErrorEquals": ["Lambda.TooManyRequestsException"], "Next": "Caught", "ResultPath": "$.error"}
    invoke = chain(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload.$": "$"},
            "Catch": [caught],
        },
        {"Type": "Fail", "Error": "NotCaught"},
    )
    invoke["States"]["Caught"] = {"Type": "Pass", "End": True}
    result = run(invoke, {"a": 3})
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output["error"]["Error"] == "Lambda.TooManyRequestsException"
    assert result.output["error"]["Cause"].startswith("Rate exceeded (Service: AWSLambda;")
