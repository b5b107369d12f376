"""Errors are AWS-shaped: what the local cloud does not model answers in the service's protocol.

moto's server answered an operation it does not implement with an HTML page (a 404, or a
500 with its traceback on the console), which the stock AWS CLI and the SDKs cannot parse.
The local cloud answers as AWS does: the error of the service's protocol (botocore's model
says which), with a code botocore reads, a message naming the operation, a request id.
AWS's common errors: ``InvalidAction`` (400) "The action or operation requested is
invalid"; ``InternalFailure`` (500) "The request processing has failed because of an
unknown error"; the JSON protocols answer an unknown operation ``UnknownOperationException``.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import __version__ as moto_version

from localcloud import LocalCloud

ONCE = Config(retries={"total_max_attempts": 1}, inject_host_prefix=False)
ROLE = "arn:aws:iam::123456789012:role/probe"

# One operation moto does not model on every service of the app: (service, operation, kwargs,
# the code AWS's protocol gives it, the service as the message names it).
NOT_MODELED = [
    ("lambda", "get_account_settings", {}, "UnknownOperationException", "Lambda"),  # rest-json
    (
        "stepfunctions",
        "test_state",
        {"definition": "{}", "roleArn": ROLE},
        "UnknownOperationException",
        "SFN",
    ),
    (
        "dynamodb",
        "describe_contributor_insights",
        {"TableName": "t"},
        "UnknownOperationException",
        "DynamoDB",
    ),
    (
        "sqs",
        "list_message_move_tasks",
        {"SourceArn": "arn:aws:sqs:us-east-1:123456789012:q"},
        "UnknownOperationException",
        "SQS",
    ),
    ("events", "list_endpoints", {}, "UnknownOperationException", "EventBridge"),
    ("logs", "list_log_anomaly_detectors", {}, "UnknownOperationException", "CloudWatch Logs"),
    ("cloudformation", "describe_account_limits", {}, "InvalidAction", "CloudFormation"),  # query
    ("iam", "delete_user_permissions_boundary", {"UserName": "u"}, "InvalidAction", "IAM"),
    ("sns", "get_sms_sandbox_account_status", {}, "InvalidAction", "SNS"),
    ("cloudwatch", "describe_anomaly_detectors", {}, "UnknownOperationException", "CloudWatch"),
    ("xray", "get_encryption_config", {}, "UnknownOperationException", "XRay"),  # rest-json
    ("apigateway", "get_client_certificates", {}, "UnknownOperationException", "API Gateway"),
    (
        "cognito-idp",
        "admin_list_devices",
        {"UserPoolId": "us-east-1_probe", "Username": "u"},
        "UnknownOperationException",
        "Cognito Identity Provider",
    ),
    ("ssm", "describe_activations", {}, "UnknownOperationException", "SSM"),
]


def operation_name(client: Any, method: str) -> str:
    return str(client.meta.method_to_api_mapping[method])


@pytest.mark.parametrize(("service", "method", "kwargs", "code", "named"), NOT_MODELED)
def test_an_operation_the_local_cloud_does_not_model_answers_an_aws_error_naming_it(
    cloud: LocalCloud, service: str, method: str, kwargs: dict[str, Any], code: str, named: str
) -> None:
    client = cloud.client(service, ONCE)
    operation = operation_name(client, method)
    # When the operation is called through boto3
    with pytest.raises(ClientError) as caught:
        getattr(client, method)(**kwargs)
    # Then botocore parsed the service's own error: its code, a message naming the operation
    error = caught.value.response["Error"]
    assert error["Code"] == code
    assert error["Message"] == f"the local cloud (moto {moto_version}) does not model {named} {operation}"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["ResponseMetadata"].get("RequestId")
    assert f"An error occurred ({code}) when calling the {operation} operation" in str(caught.value)


def test_an_s3_operation_moto_fails_in_answers_s3s_error_xml(cloud: LocalCloud) -> None:
    # Given a bucket; moto routes CreateBucketMetadataConfiguration to a form upload that fails
    s3 = cloud.client("s3", ONCE)
    s3.create_bucket(Bucket="error-shapes")
    # When it is called
    with pytest.raises(ClientError) as caught:
        s3.create_bucket_metadata_configuration(
            Bucket="error-shapes",
            MetadataConfiguration={
                "JournalTableConfiguration": {"RecordExpiration": {"Expiration": "DISABLED"}}
            },
        )
    # Then S3's InternalError (500) names the operation, in S3's <Error> XML
    error = caught.value.response["Error"]
    assert error["Code"] == "InternalError"
    assert "failed in S3 CreateBucketMetadataConfiguration" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_an_exception_inside_moto_answers_internal_failure_logged_in_one_line(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given moto's ListQueues raises, as a bug in moto would
    from moto.sqs.responses import SQSResponse

    def broken(self: SQSResponse) -> None:
        raise KeyError("QueueUrl")

    monkeypatch.setattr(SQSResponse, "list_queues", broken)
    # When it is called
    with caplog.at_level(logging.INFO), pytest.raises(ClientError) as caught:
        cloud.client("sqs", ONCE).list_queues()
    # Then SQS's JSON error InternalFailure (500) names the operation and what moto raised
    error = caught.value.response["Error"]
    assert error["Code"] == "InternalFailure"
    assert error["Message"] == (
        f"the local cloud (moto {moto_version}) failed in SQS ListQueues: KeyError: 'QueueUrl'"
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # And it is logged once, in one line, without a traceback (werkzeug logs nothing)
    logged = [r for r in caplog.records if "ListQueues" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is None and "\n" not in logged[0].getMessage()
    assert not [r for r in caplog.records if r.name == "werkzeug" and r.levelno >= logging.ERROR]


def raw(
    cloud: LocalCloud, path: str, *, signing: str, method: str = "POST", **request: Any
) -> tuple[int, str, bytes]:
    headers = {
        # moto reads the service from the credential scope; it checks no signature
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{signing}/aws4_request, "
        "SignedHeaders=host, Signature=0",
        **request.get("headers", {}),
    }
    call = urllib.request.Request(
        cloud.endpoint + path, data=request.get("body"), headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as answer:  # the loopback endpoint
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_the_raw_answers_are_the_protocols_never_html(cloud: LocalCloud) -> None:
    bodies = []
    # awsJson1_0 (Step Functions): a JSON document with __type, the JSON content type
    status, content_type, body = raw(
        cloud,
        "/",
        signing="states",
        headers={"X-Amz-Target": "AWSStepFunctions.TestState", "Content-Type": "application/x-amz-json-1.0"},
        body=b"{}",
    )
    assert (status, content_type) == (400, "application/x-amz-json-1.0")
    assert json.loads(body)["__type"] == "UnknownOperationException"
    bodies.append(body)
    # query (CloudFormation): AWS's <ErrorResponse>, in XML
    status, content_type, body = raw(
        cloud,
        "/",
        signing="cloudformation",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"Action=DescribeAccountLimits&Version=2010-05-15",
    )
    assert (status, content_type) == (400, "text/xml")
    assert body.startswith(b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>")
    assert b"does not model CloudFormation DescribeAccountLimits" in body
    assert b"<RequestId>" in body
    bodies.append(body)
    # rest-json (Lambda): a JSON message, the code in x-amzn-ErrorType
    status, content_type, body = raw(cloud, "/2016-08-19/account-settings", signing="lambda", method="GET")
    assert (status, content_type) == (400, "application/json")
    assert "does not model Lambda GetAccountSettings" in json.loads(body)["message"]
    bodies.append(body)
    assert not [b for b in bodies if b.lstrip().lower().startswith((b"<!doctype", b"<html"))]


def test_what_moto_answers_itself_passes_untouched(cloud: LocalCloud) -> None:
    # An error moto models keeps moto's answer (its code, its message)
    with pytest.raises(ClientError) as caught:
        cloud.client("sqs", ONCE).get_queue_url(QueueName="no-such-queue")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    # and moto's own dashboard (not an AWS service) is still its HTML page
    status, content_type, _ = raw(cloud, "/moto-api/", signing="s3", method="GET")
    assert status == 200 and content_type.startswith("text/html")


def test_a_part_of_an_operation_moto_does_not_model_answers_not_implemented(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given moto's CreateTable says a part of it is not implemented, as moto does for some features
    from moto.dynamodb.responses import DynamoHandler

    def partly(self: DynamoHandler) -> None:
        raise NotImplementedError("TableClass STANDARD_INFREQUENT_ACCESS is not yet implemented")

    monkeypatch.setattr(DynamoHandler, "describe_limits", partly)
    # When it is called
    with pytest.raises(ClientError) as caught:
        cloud.client("dynamodb", ONCE).describe_limits()
    # Then NotImplemented (501, which the SDKs do not retry) names the operation and moto's words
    assert caught.value.response["Error"] == {
        "Code": "NotImplemented",
        "Message": f"the local cloud (moto {moto_version}) does not model a part of DynamoDB DescribeLimits: "
        "TableClass STANDARD_INFREQUENT_ACCESS is not yet implemented",
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
