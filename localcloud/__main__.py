"""The local cloud's command line.

    python -m localcloud demo   [--assembly cdk.out] [--event statemachines/document_intake/events/clear.json]
    python -m localcloud serve  [--assembly cdk.out] [--port 4599]
    python -m localcloud console [--assembly cdk.out] [--port 8642] [--seed <sample event>.json]
    python -m localcloud script  <capability | model id> --answer '{...}' | --fault throttle

``demo`` deploys the assembly, puts events on the bus, approves the reviews they
ask for as a reviewer would, and prints each run. ``serve`` deploys and keeps the
local cloud running so that the AWS CLI, or any SDK, can use it through
``--endpoint-url``. ``console`` does the same and serves the review console and
API on 127.0.0.1. ``script`` queues what the running local model answers next for a
capability (or a model id): ``serve`` and ``console`` read their script file
(``--model-script``, default ``.localcloud/model-script.jsonl``) as lines are added.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from aiflows.cli import review_lines
from aiflows.flows import SAMPLE_BUS, read_sample
from localcloud.cloud import Deployment, LocalCloud
from localcloud.report import render_execution
from localcloud.rest_apis import stage_urls

MODEL_SCRIPT = Path(".localcloud/model-script.jsonl")


def put_event_file(cloud: LocalCloud, deployment: Deployment, event_file: Path) -> str:
    """Put the event of a sample event file (``aiflows.flows.read_sample``) on the stack's bus.

    The objects the event names in the claim bucket come with it: a folder beside the file,
    ``<name>.claims/``, holds them at their keys (``sample.claims/batches/b-1/documents.jsonl``),
    and they are put in the stack's claim bucket first, as a producer would.
    """
    claims = event_file.with_suffix(".claims")
    if claims.is_dir():
        s3 = cloud.client("s3")
        for path in sorted(p for p in claims.rglob("*") if p.is_file()):
            key = path.relative_to(claims).as_posix()
            s3.put_object(Bucket=deployment.outputs["ClaimBucketName"], Key=key, Body=path.read_bytes())
    entry = read_sample(event_file)
    # the deployed stack's bus, whichever stage it is (a sample names the default stage's)
    entry["EventBusName"] = deployment.outputs.get("EventBusName", entry.get("EventBusName", SAMPLE_BUS))
    entry["Detail"] = json.dumps(entry["Detail"])
    answer = cloud.client("events").put_events(Entries=[entry])
    if answer["FailedEntryCount"]:
        raise SystemExit(f"the bus refused the event: {answer['Entries']}")
    return str(answer["Entries"][0]["EventId"])


def _function_logs(cloud: LocalCloud, since_ms: int) -> list[str]:
    """The log lines since a time; moto's logs may refuse a read while functions still write."""
    from botocore.exceptions import ClientError

    logs = cloud.client("logs")
    for attempt in range(5):
        try:
            lines: list[str] = []
            for group in logs.describe_log_groups()["logGroups"]:
                events = logs.filter_log_events(logGroupName=group["logGroupName"], startTime=since_ms)[
                    "events"
                ]
                lines.extend(f"{group['logGroupName']}  {event['message']}" for event in events)
            return lines
        except ClientError as error:
            if attempt == 4:
                return [f"(the local CloudWatch Logs did not answer: {error})"]
            time.sleep(0.2)
    return []


def _approve_reviews(cloud: LocalCloud, deployment: Deployment, correlation_id: str, reviewer: str) -> None:
    """Answer the run's reviews as a reviewer would, through the review API's own code."""
    from aiflows_runtime.contracts import ReviewDecision
    from aiflows_runtime.reviews import DynamoDBReviews, answer_flow

    table = deployment.outputs.get("StateTableName")
    if not table:
        return
    store = DynamoDBReviews(table, client=cloud.client("dynamodb"))
    for review in store.pending():
        if review.details.get("correlation_id") != correlation_id:
            continue
        print(f"\nReview {review.review_id} is waiting for a person ({review.details['step']}):")
        for heading, text in review_lines(review.details):
            print(f"  {heading:<13} {text[:100]}")
        decision = ReviewDecision(
            review_id=review.review_id, decision="approve", reviewer=reviewer, reason="evidence checked"
        )
        answer_flow(cloud.client("stepfunctions"), store.decide(decision), decision)
        print(f"  -> approved by {reviewer}; the flow goes on\n")


def _show_trace(cloud: LocalCloud, execution_arn: str, html_file: Path) -> None:
    """The last run's trace, as `python -m aiflows trace` shows it, read from the local X-Ray."""
    from aiflows import traceview

    cloud.flush_traces()
    view = traceview.timeline(*traceview.find_trace(cloud.client("xray"), execution_arn))
    print()
    print("Its trace (the local X-Ray; on AWS the same with `python -m aiflows trace <execution ARN>`):")
    print(traceview.render_text(view))
    html_file.parent.mkdir(parents=True, exist_ok=True)
    html_file.write_text(traceview.render_html(view), encoding="utf-8")
    print(f"  HTML timeline: {html_file}")


def demo(args: argparse.Namespace) -> int:
    with LocalCloud(time_scale=args.time_scale, model_script=args.model_script) as cloud:
        deployment = cloud.deploy(args.assembly)
        print(f"Deployed {deployment.stack_name} into the local cloud in {deployment.seconds * 1000:,.0f} ms")
        print(f"  {len(deployment.resources)} resources, {len(deployment.state_machines)} state machine(s)")
        if deployment.not_modeled:
            print(f"  not modeled locally (AWS enforces these): {', '.join(deployment.not_modeled)}")
        for key, value in sorted(deployment.outputs.items()):
            print(f"  {key:<32} {value}")
        sfn = cloud.client("stepfunctions")
        status = 0
        execution = None
        for event_file in args.event:
            print()
            known = {
                e["executionArn"]
                for arn in deployment.state_machines.values()
                for e in sfn.list_executions(stateMachineArn=arn)["executions"]
            }
            since_ms = int(time.time() * 1000)
            event_id = put_event_file(cloud, deployment, event_file)
            print(f"Put {event_file} on the bus (event id {event_id})")
            unmatched = [e for e in cloud.unmatched_events if e["event_id"] == event_id]
            if unmatched:
                print(
                    f"  it matched no rule (source {unmatched[0]['source']!r}, detail-type "
                    f"{unmatched[0]['detail_type']!r}): it starts nothing; the triggers are in each flow.toml"
                )
                status = 1
                continue
            deadline = time.monotonic() + args.timeout
            execution = None
            while time.monotonic() < deadline:
                execution = cloud.wait_for_new_execution(deployment, known, timeout=args.timeout, wait=False)
                if execution["status"] != "RUNNING":
                    break
                if args.approve_as:
                    _approve_reviews(cloud, deployment, event_id, args.approve_as)
                time.sleep(0.05)
            assert execution is not None
            history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
                "events"
            ]
            print(render_execution(execution, history))
            print()
            print("Function logs (the local CloudWatch Logs):")
            for line in _function_logs(cloud, since_ms)[: args.log_lines]:
                print(f"  {line[:160]}")
            if execution["status"] != "SUCCEEDED" and not args.allow_failure:
                status = 1
        if execution is not None:
            _show_trace(cloud, execution["executionArn"], args.trace_html)
        print()
        print("Where to look next:")
        print("  make serve                   keep the local cloud up and explore it with the AWS CLI")
        print("  docs/local-cloud.md          what the local cloud runs, and how it differs from AWS")
        print("  docs/build-a-flow.md         build a flow of your own, from python -m aiflows new to a run")
        print("  statemachines/<flow>/        the flows you just ran; functions/<capability>/ their steps")
        print("  npx cdk deploy               the same app, on AWS")
        return status


def serve(args: argparse.Namespace) -> int:
    with LocalCloud(time_scale=args.time_scale, port=args.port, model_script=args.model_script) as cloud:
        deployment = cloud.deploy(args.assembly)
        print(f"The local cloud is running at {cloud.endpoint} with {deployment.stack_name} deployed.")
        for key, value in sorted(deployment.outputs.items()):
            print(f"  {key:<32} {value}")
        for logical, kind in deployment.resource_types.items():  # each REST API's stages, on this endpoint
            if kind == "AWS::ApiGateway::RestApi":
                for url in stage_urls(cloud, [deployment.resources[logical]]):
                    print(f"  {logical + ' (served here)':<32} {url}")
        print("\nTry, in another shell (docs/local-cloud.md#the-aws-cli):")
        print("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1")
        # StartSyncExecution's endpoint has the host prefix "sync-": sync-127.0.0.1 is no host
        print(f"  export AWS_ENDPOINT_URL={cloud.endpoint} AWS_DISABLE_HOST_PREFIX_INJECTION=true")
        print("  aws events put-events --entries file://statemachines/document_intake/events/clear.json")
        print("  aws stepfunctions list-state-machines")
        print('  aws sqs --endpoint-url "$AWS_ENDPOINT_URL" list-queues   (AWS CLI v1 needs it for sqs)')
        print("  .venv/bin/python -m localcloud script <capability> --answer '{...}'   (scripts the model)")
        return _until_interrupted()


def _until_interrupted() -> int:
    print("Press Ctrl-C to stop.")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def console(args: argparse.Namespace) -> int:
    """Deploy, serve the review console on 127.0.0.1, and put events that need a person."""
    from localcloud.console import DEV_TOKEN, ConsoleServer, cognito_authorizer

    with LocalCloud(
        time_scale=args.time_scale, port=args.cloud_port, model_script=args.model_script
    ) as cloud:
        deployment = cloud.deploy(args.assembly)
        function = deployment.outputs.get("ReviewApiFunctionName")
        if not function:
            raise SystemExit("the deployed app has no review API (output ReviewApiFunctionName)")
        assert cloud.lambdas is not None
        lambdas = cloud.lambdas
        server = ConsoleServer(
            invoke=lambda name, event: lambdas.invoke(name, None, event),
            function=function,
            port=args.port,
            authorizer=cognito_authorizer(cloud, deployment),  # the stack's user pool signs in too
        )
        url = server.start()
        for event_file in args.seed or []:
            put_event_file(cloud, deployment, event_file)
        print(f"The review console: {url}?token={DEV_TOKEN}")
        print(f"The review API:     {url}reviews  (Authorization: Bearer {DEV_TOKEN})")
        print(f"The local cloud:    {cloud.endpoint}")
        if "ReviewerUserPoolId" in deployment.outputs:  # a real local user signs in too
            print(
                f"The user pool:      {deployment.outputs['ReviewerUserPoolId']}, its console client "
                f"{deployment.outputs.get('ReviewConsoleClientId')} (docs/local-cloud.md#the-review-console)"
            )
        print(f"The CLI:            .venv/bin/python -m aiflows --api {url} --token {DEV_TOKEN} reviews list")
        try:
            return _until_interrupted()
        finally:
            server.stop()


def script(args: argparse.Namespace) -> int:
    """Append an answer or a fault for a capability (or a model id) to the running model's script."""
    from localcloud.model import FAULTS, scripted

    line: dict[str, Any] = {"for": args.target}
    if args.answer is not None:
        line["answer"] = args.answer
    else:
        line["fault"] = args.fault
        if args.fault == "timeout":
            line["seconds"] = args.seconds
    scripted(line)  # refuse here what the running model would refuse
    args.file.parent.mkdir(parents=True, exist_ok=True)
    with args.file.open("a", encoding="utf-8") as script_file:
        script_file.write(json.dumps(line) + "\n")
    what = "an answer" if args.answer is not None else f"a {args.fault} fault"
    print(f"{args.target}: {what} queued in {args.file} ({', '.join(sorted(FAULTS))} are the faults)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler in (("demo", demo), ("serve", serve), ("console", console)):
        command = commands.add_parser(name)
        command.set_defaults(handler=handler)
        command.add_argument("--assembly", type=Path, default=Path("cdk.out"))
        command.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="run Retry intervals, Wait states and timeouts this many times as fast (0.01: 100x)",
        )
    demo_parser = commands.choices["demo"]
    demo_parser.add_argument(
        "--event",
        type=Path,
        action="append",
        help="a PutEvents entry to put on the bus (repeatable; default: a clear invoice, a doubtful one)",
    )
    demo_parser.add_argument(
        "--approve-as",
        default="reviewer@example.com",
        help="approve the run's reviews as this reviewer ('' to leave them)",
    )
    demo_parser.add_argument("--log-lines", type=int, default=12)
    demo_parser.add_argument("--trace-html", type=Path, default=Path(".localcloud/last-trace.html"))
    demo_parser.add_argument("--timeout", type=float, default=120.0)
    demo_parser.add_argument("--allow-failure", action="store_true", help="exit 0 when the flow fails")
    for name in ("demo", "serve", "console"):
        commands.choices[name].add_argument(
            "--model-script",
            type=Path,
            default=None if name == "demo" else MODEL_SCRIPT,
            help="JSON lines the local model answers first (python -m localcloud script appends to it)",
        )
    scripting = commands.add_parser("script", help="queue an answer or a fault for the running local model")
    scripting.set_defaults(handler=script)
    scripting.add_argument("target", help="a capability's name (e.g. classify), or a model id")
    given = scripting.add_mutually_exclusive_group(required=True)
    given.add_argument("--answer", help="the model's answer text (the JSON its prompt asks for)")
    given.add_argument("--fault", choices=("throttle", "service_error", "timeout", "malformed"))
    scripting.add_argument("--seconds", type=float, default=30.0, help="how long a timeout takes")
    scripting.add_argument("--file", type=Path, default=MODEL_SCRIPT)
    commands.choices["serve"].add_argument("--port", type=int, default=4599)
    console_parser = commands.choices["console"]
    console_parser.add_argument("--port", type=int, default=8642, help="the console's port")
    console_parser.add_argument("--cloud-port", type=int, default=4599, help="the local cloud's port")
    console_parser.add_argument(
        "--seed",
        type=Path,
        action="append",
        help="a PutEvents entry to put on the bus once deployed (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.command == "demo" and not args.event:
        samples = Path("statemachines/document_intake/events")
        args.event = [samples / "clear.json", samples / "review.json"]
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
