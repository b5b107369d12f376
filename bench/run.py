"""Benchmarks of the local cloud: printed figures, not assertions.

    make bench            (or: .venv/bin/python bench/run.py [--flows 30])

Prints:
- the AWS requests per invocation of each model-calling capability (:mod:`bench.requests`);
- the local deploy time of the synthesized app (cdk.out);
- the demo flow's latency (sequential runs, put_events to a finished execution)
  and throughput (a burst of events, flows finished per second);
- the CPU the local cloud's own process spends on a sequential flow (its server, its
  interpreter, the waiting; the functions run in processes of their own): the figure a busy
  machine changes least, and the one a burst is bounded by;
- the floor: the same ASL on moto in this process with no-op handlers (no worker
  processes, no server, none of the local cloud's patches but its Step Functions semantics,
  without which moto cannot run the flow, and its parsing of each definition once), and the
  ratios of the local cloud to that floor, next to their goals.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiflows.flows import flows, read_sample
from bench import local_cloud_arguments, requests
from localcloud import LocalCloud
from localcloud.__main__ import put_event_file

ROOT = Path(__file__).resolve().parents[1]

EVENT = ROOT / "statemachines" / "document_intake" / "events" / "clear.json"
FLOW_OUTPUT = "DocumentIntakeStateMachineArn"
# issue 16's goals: the local cloud near moto's own floor
LATENCY_GOAL = 1.5  # the flow's median latency, at most this many times the floor's
THROUGHPUT_GOAL = 0.67  # a burst's throughput, at least this share of the floor's


def summary(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ordered)})"


def wait_all(describe: Callable[[str], dict[str, Any]], arns: list[str], timeout: float = 300) -> None:
    pending = set(arns)
    deadline = time.monotonic() + timeout
    while pending:
        pending = {a for a in pending if describe(a)["status"] == "RUNNING"}
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} executions still running after {timeout} s")
        time.sleep(0.005)


MODEL = {"model_id": "floor", "prompt_id": "floor/v1", "cost_usd": 0.0, "cache_hit": False}
DOCUMENT = {"document_id": "d-1", "tenant": "acme", "text": "An invoice."}
# What each no-op function answers: its output contract, with the least content (the auto-act path);
# a capability not named here answers what the local model derives from its output contract.
CANNED: dict[str, dict[str, Any]] = {
    "ValidateFunction": {"tenant": "acme", "document": DOCUMENT, "size_bytes": 11, "long_running": False},
    "GuardFunction": {
        "stage": "output",
        "outcome": "pass",
        "risk": "low",
        "findings": [],
        "auto_act": True,
        "policy_version": "0",
        "document": DOCUMENT,
        "redacted": False,
    },
    "ClassifyFunction": {"label": "invoice", "confidence": 1.0, "evidence": [], "model": MODEL},
    "ExtractFunction": {"fields": {}, "missing": [], "unsupported": [], "model": MODEL},
    "SummarizeFunction": {"summary": "An invoice.", "words": 2, "truncated": False, "model": MODEL},
    "RetrieveFunction": {"passages": [], "corpus_size": 0},
    "ActFunction": {
        "action": "write_record",
        "action_id": "d-1",
        "status": "done",
        "reference": "record#d-1",
    },
    "RequestReviewFunction": {"review_id": "rv-floor", "status": "PENDING"},
}


def canned(binding: str) -> dict[str, Any]:
    """The no-op answer of the function a definition names ``${binding}``."""
    if binding in CANNED:
        return CANNED[binding]
    from aiflows.registry import by_binding
    from localcloud.answers import answer_from_contract

    return answer_from_contract(by_binding()[binding].output_model, "An invoice.")


def floor(definition: str, flows: int) -> tuple[list[float], float]:
    """The same ASL on in-process moto, each function answering its canned output at once."""
    import io
    import zipfile

    import boto3
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def no_op(self: Any, function_name: str, *args: Any, **kwargs: Any) -> bytes:
        name = function_name.rsplit(":", 1)[-1].removeprefix("floor-")
        return json.dumps(canned(name)).encode()

    LambdaSimpleBackend.invoke = no_op
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    # moto alone cannot run the flow (no JSONata evaluator, to begin with): the floor runs it with
    # the local cloud's Step Functions semantics and its parse-once (moto parses the definition at
    # every start, 80% of the floor's CPU), and nothing else of the local cloud
    from localcloud.patches import Patches
    from localcloud.patches.stepfunctions import install_semantics

    patches = Patches()
    install_semantics(patches)
    try:
        with mock_aws(config=config):
            iam = boto3.client("iam", region_name="us-east-1")
            role = iam.create_role(RoleName="floor", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            lam = boto3.client("lambda", region_name="us-east-1")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("handler.py", "def lambda_handler(e, c):\n    return e\n")
            bound: dict[str, str] = {}
            for name in sorted(set(_substitutions(definition))):
                if name == "EventBus":
                    bound[name] = (
                        boto3.client("events", region_name="us-east-1")
                        .create_event_bus(Name="floor")["EventBusArn"]
                        .rsplit("/", 1)[-1]
                    )
                elif name in ("WorkQueue", "ParkedRuns"):
                    bound[name] = boto3.client("sqs", region_name="us-east-1").create_queue(
                        QueueName=f"floor-{name}"
                    )["QueueUrl"]
                elif name == "StateTable":
                    bound[name] = boto3.client("dynamodb", region_name="us-east-1").create_table(
                        TableName="floor",
                        KeySchema=[
                            {"AttributeName": "pk", "KeyType": "HASH"},
                            {"AttributeName": "sk", "KeyType": "RANGE"},
                        ],
                        AttributeDefinitions=[
                            {"AttributeName": "pk", "AttributeType": "S"},
                            {"AttributeName": "sk", "AttributeType": "S"},
                        ],
                        BillingMode="PAY_PER_REQUEST",
                    )["TableDescription"]["TableName"]
                else:
                    bound[name] = lam.create_function(
                        FunctionName=f"floor-{name}",
                        Runtime="python3.12",
                        Role=role,
                        Handler="handler.lambda_handler",
                        Code={"ZipFile": buffer.getvalue()},
                    )["FunctionArn"]
            resolved = definition
            for name, value in bound.items():
                resolved = resolved.replace("${" + name + "}", value)
            sfn = boto3.client("stepfunctions", region_name="us-east-1")
            machine = sfn.create_state_machine(name="floor", definition=resolved, roleArn=role)
            event = _sample_event()

            def start() -> str:
                return str(
                    sfn.start_execution(
                        stateMachineArn=machine["stateMachineArn"],
                        name=str(uuid.uuid4()),
                        input=json.dumps(event),
                    )["executionArn"]
                )

            latencies = []
            for _ in range(flows):
                started = time.perf_counter()
                wait_all(lambda a: sfn.describe_execution(executionArn=a), [start()])
                latencies.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            arns = [start() for _ in range(flows)]
            wait_all(lambda a: sfn.describe_execution(executionArn=a), arns)
            throughput = flows / (time.perf_counter() - started)
            failed = [sfn.describe_execution(executionArn=a) for a in arns]
            failed = [f for f in failed if f["status"] != "SUCCEEDED"]
            if failed:
                events = sfn.get_execution_history(executionArn=failed[0]["executionArn"])["events"]
                why = next((e for e in events if e["type"].endswith("Failed")), events[-1])
                raise SystemExit(f"floor: {len(failed)} executions did not succeed; the first: {why}")
            return latencies, throughput
    finally:
        LambdaSimpleBackend.invoke = original
        patches.restore()


def _substitutions(definition: str) -> list[str]:
    import re

    return re.findall(r"\$\{(\w+)\}", definition)


def _sample_event() -> dict[str, Any]:
    entry = read_sample(EVENT)  # its Detail decoded
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": "123456789012",
        "time": "2026-11-24T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": entry["Detail"],
    }


def local_cloud(assembly: Path, flows: int, deploys: int) -> tuple[list[float], list[float], float, float]:
    """The deploys' milliseconds, the flows' latencies, the main process's CPU milliseconds a flow, and
    a burst's flows a second."""
    deploy_s = []
    for _ in range(deploys):
        with LocalCloud() as cloud:
            deploy_s.append(cloud.deploy(assembly).seconds * 1000)
    with LocalCloud() as cloud:
        deployment = cloud.deploy(assembly)
        machine = deployment.outputs[FLOW_OUTPUT]
        sfn = cloud.client("stepfunctions")

        def executions() -> set[str]:
            return {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}

        # one warm-up run: the cold start of each function is not the steady state
        put_event_file(cloud, deployment, EVENT)
        cloud.wait_for_executions(machine, count=1)
        latencies = []
        cpu_started = time.process_time()
        for _ in range(flows):
            known = executions()
            started = time.perf_counter()
            put_event_file(cloud, deployment, EVENT)
            execution = cloud.wait_for_new_execution(deployment, known)
            latencies.append((time.perf_counter() - started) * 1000)
            if execution["status"] != "SUCCEEDED":
                raise SystemExit(f"local cloud: a flow ended {execution['status']}")
        cpu_ms = (time.process_time() - cpu_started) * 1000 / flows
        known = executions()
        started = time.perf_counter()
        for _ in range(flows):
            put_event_file(cloud, deployment, EVENT)
        cloud.wait_for_executions(machine, count=len(known) + flows, timeout=600)
        throughput = flows / (time.perf_counter() - started)
    return deploy_s, latencies, cpu_ms, throughput


def main() -> None:
    parser = local_cloud_arguments(__doc__)
    parser.add_argument("--flows", type=int, default=30)
    parser.add_argument("--deploys", type=int, default=3)
    args = parser.parse_args()
    definition = json.dumps(flows()["document_intake"].woven())  # what deploys

    requests.report(requests.measure())
    print()

    floor_latency, floor_throughput = floor(definition, args.flows)
    deploy_ms, latency, cpu_ms, throughput = local_cloud(args.assembly, args.flows, args.deploys)

    print("Local cloud benchmark (document_intake, its events/clear.json; ! = missed)")
    print(f"  local deploy of {args.assembly.name}:        {summary(deploy_ms)}")
    print(f"  flow latency, local cloud:       {summary(latency)}")
    print(f"  flow latency, moto floor:        {summary(floor_latency)}")
    print(f"  main-process CPU, local cloud:   {cpu_ms:7.1f} ms a flow (its functions' processes apart)")
    print(f"  throughput, local cloud:         {throughput:7.1f} flows/s  ({args.flows} events in a burst)")
    print(f"  throughput, moto floor:          {floor_throughput:7.1f} flows/s")
    ratio = statistics.median(latency) / statistics.median(floor_latency)
    share = throughput / floor_throughput
    late = "!" if ratio > LATENCY_GOAL else ""
    slow = "!" if share < THROUGHPUT_GOAL else ""
    print(f"  median latency, local/floor:     {ratio:7.2f}x  goal <={LATENCY_GOAL:g}x {late}")
    print(f"  throughput, local/floor:         {share:7.2f}x  goal >={THROUGHPUT_GOAL:g}x {slow}")


if __name__ == "__main__":
    main()
