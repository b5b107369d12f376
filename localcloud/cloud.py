"""The local cloud: an in-process moto that deploys a cloud assembly and runs its real handlers.

    with LocalCloud(time_scale=0.01) as cloud:
        deployment = cloud.deploy("cdk.out")
        cloud.client("events").put_events(Entries=[...])

One :class:`LocalCloud` runs per process at a time: moto's backends are process-wide.
Every client (the tests', the handlers' in their worker processes, the CLI's) reaches
the same moto server on 127.0.0.1 through its endpoint URL.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from localcloud import patches, traces
from localcloud.assembly import (
    BOOTSTRAP_PARAMETERS,
    TOOLKIT_STACK,
    StackArtifact,
    bootstrap_template,
    read_assembly,
)
from localcloud.errors import ShapedErrors
from localcloud.faults import Faults, FaultyEndpoint
from localcloud.lambdas import LambdaService
from localcloud.model import LocalModel
from localcloud.rest_apis import RestApiInvocations
from localcloud.sqs_poller import SqsPoller
from localcloud.timescale import TimeScale

if TYPE_CHECKING:
    from localcloud.console import CognitoAuthorizer

ACCOUNT = "123456789012"
REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

LOG = logging.getLogger("localcloud")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]  # as the CLI passes them


class LocalCloudError(Exception):
    """The local cloud cannot do what was asked; the message says why."""


@dataclass
class Deployment:
    """What a stack create or update made: its outputs and its resources by logical id.

    Kept in :attr:`LocalCloud.deployments` for every stack CloudFormation creates or updates,
    whether ``cloud.deploy`` or the stock CDK CLI asked (:mod:`localcloud.patches.cloudformation`).
    """

    stack_name: str
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id -> physical id
    resource_types: dict[str, str]
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    versions: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    not_modeled: list[str] = field(default_factory=list)  # resource types moto skipped
    seconds: float = 0.0  # the CloudFormation operation's; cloud.deploy's with its assets published


class LocalCloud:
    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        timeout_floor: float = 5.0,
        workdir: str | os.PathLike[str] | None = None,
        region: str = REGION,
        port: int = 0,
        model_script: str | os.PathLike[str] | None = None,
    ) -> None:
        self.time_scale = time_scale
        self.time = TimeScale(time_scale, timeout_floor)
        self.region = region
        self.port = port
        self.account = ACCOUNT
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="localcloud-"))
        self._server: Any = None
        self.endpoint = ""
        self.lambdas: LambdaService | None = None
        self.pollers: list[SqsPoller] = []
        self.deployments: dict[str, Deployment] = {}
        self._saved_env: dict[str, str | None] = {}
        self.delivery_failures: list[dict[str, Any]] = []
        self.unmatched_events: list[dict[str, Any]] = []  # accepted, matched no rule (deliver_nowhere)
        # what the local model answers first, read as lines are appended (python -m localcloud script)
        # the faults the chaos suite arms (localcloud/faults.py); none unless a caller adds one
        self.faults = Faults()
        self.model = LocalModel(script_file=Path(model_script) if model_script else None, faults=self.faults)
        self._traced: set[str] = set()
        self._patches: patches.Patches | None = None
        self._sessions = threading.local()
        self._waiting: tuple[str, Any] | None = None  # (endpoint, client): the waits' own client

    # --- lifecycle -----------------------------------------------------
    def start(self) -> LocalCloud:
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        try:
            self._patches = patches.install(self)
        except RuntimeError as exc:
            raise LocalCloudError(str(exc)) from exc
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": False}
        _reset_moto()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Each resource type moto does not model is logged and warned per resource (from the
        # server's threads); the deployment lists them once instead.
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
        # The interpreter logs every state failure it handles (a Catch, a Retry) as an
        # ERROR with its internals; the execution history is where a failure is read.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        # every request passes the fault injector first (it answers nothing unless a fault is armed)
        wsgi = self._server._server
        # and AWS-shaped errors, never HTML; the REST APIs' stages are invoked on the same endpoint
        invocations = RestApiInvocations(
            ShapedErrors(wsgi.app), self, functools.cache(self._pools_authorizer)
        )
        wsgi.app = FaultyEndpoint(invocations, self.faults)
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto's Step Functions interpreter calls Lambda at localhost:$MOTO_PORT.
        self._set_env({"MOTO_PORT": str(port), **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": self.region})
        self.traces = traces.ExecutionTraces(
            sink=lambda segment: self._put_segment(traces.to_document(segment))
        )
        self._collector = traces.SegmentCollector(sink=self._put_segment)
        self._stop_tracing = threading.Event()
        threading.Thread(target=self._synthesize_traces, daemon=True, name="sfn-traces").start()
        self.lambdas = LambdaService(
            workdir=self.workdir,
            base_env=self._function_base_env(),
            log_sink=self._write_logs,
            function_lookup=self._function,
            layer_lookup=self._layer,
            dead_letter=self._send_dead_letter,
            time_scale=self.time_scale,
            faults=self.faults,
            segment_sink=lambda segment: self._put_segment(traces.to_document(segment)),
        )
        return self

    def _pools_authorizer(self, provider_arns: tuple[str, ...]) -> CognitoAuthorizer:
        from localcloud.console import pools_authorizer

        return pools_authorizer(self, provider_arns)

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()
        if getattr(self, "_collector", None):
            self._stop_tracing.set()
            self._collector.stop()
        if self.lambdas:
            self.lambdas.close()
        if self._server:
            _stop_promptly(self._server)
            self._server = None
        _reset_moto()
        self._restore_env()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self._patches is not None:
            self._patches.restore()
            self._patches = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def _function_base_env(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
        return {
            **{k: os.environ[k] for k in keep if k in os.environ},
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": self._collector.address,
            "TZ": ":UTC",
        }

    # --- clients -------------------------------------------------------
    def _session(self) -> boto3.session.Session:
        """This thread's session: a session is not thread-safe, and one kept keeps the service
        models it has loaded (a new session per client reloaded them, a tenth of a burst's CPU)."""
        session: boto3.session.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = boto3.session.Session()
        return session

    def client(self, service: str, config: Config | None = None) -> Any:
        """A new boto3 client of the local cloud (fake credentials, loopback endpoint)."""
        if not self.endpoint:
            raise LocalCloudError("start the local cloud before asking for a client")
        return self._session().client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            # StartSyncExecution's "sync-" host prefix would break a loopback endpoint.
            config=config
            or Config(retries={"mode": "standard", "max_attempts": 2}, inject_host_prefix=False),
        )

    # --- deploy --------------------------------------------------------
    def deploy(self, assembly: str | os.PathLike[str] = "cdk.out") -> Deployment:
        """Deploy every stack of a synthesized cloud assembly, as ``cdk deploy`` does; return the last one.

        The environment is bootstrapped first if it is not (the ``CDKToolkit`` stack, as ``cdk
        bootstrap`` deploys it); then each stack's assets are published to the bootstrap bucket and
        the stack is created or updated from its template there. What a stack deploy does beyond
        CloudFormation (the flows registered where they run, the outputs moto cannot resolve, the
        :class:`Deployment`) is the CloudFormation layer's (:mod:`localcloud.patches.cloudformation`),
        so a stack deployed by the stock CDK CLI against :attr:`endpoint` runs the same.
        """
        stacks = read_assembly(assembly, self.account, self.region)
        self._bootstrap()
        deployment: Deployment | None = None
        for stack in stacks:
            deployment = self._deploy_stack(stack)
        assert deployment is not None
        return deployment

    def _bootstrap(self) -> None:
        """The ``CDKToolkit`` stack of the CDK CLI's own template, as ``cdk bootstrap`` deploys it, once."""
        cfn = self.client("cloudformation")
        if any(
            s["StackName"] == TOOLKIT_STACK and s["StackStatus"] != "DELETE_COMPLETE"
            for s in cfn.list_stacks()["StackSummaries"]
        ):
            return
        cfn.create_stack(
            StackName=TOOLKIT_STACK,
            TemplateBody=bootstrap_template(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in BOOTSTRAP_PARAMETERS.items()],
            Capabilities=CAPABILITIES,
        )
        self._completed(TOOLKIT_STACK)

    def _deploy_stack(self, stack: StackArtifact) -> Deployment:
        started = time.perf_counter()
        s3 = self.client("s3")
        for asset in stack.assets:  # into the bootstrap bucket: a missing bucket fails, as on AWS
            s3.put_object(Bucket=asset.bucket, Key=asset.key, Body=asset.body())
        cfn = self.client("cloudformation")
        existing = {
            s["StackName"]
            for s in cfn.list_stacks()["StackSummaries"]
            if s["StackStatus"] not in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS")
        }
        # the template from its asset, as the CLI passes it (a template body holds at most 51,200 bytes)
        template: dict[str, str] = (
            {"TemplateURL": f"{self.endpoint}/{stack.template_object[0]}/{stack.template_object[1]}"}
            if stack.template_object
            else {"TemplateBody": json.dumps(stack.template)}
        )
        call = cfn.update_stack if stack.stack_name in existing else cfn.create_stack
        call(StackName=stack.stack_name, Capabilities=CAPABILITIES, **template)
        self._completed(stack.stack_name)
        deployment = self.deployments[stack.stack_name]  # the CloudFormation layer's record of it
        deployment.seconds = time.perf_counter() - started  # the whole deploy, its assets published
        return deployment

    def _completed(self, stack_name: str) -> None:
        described = self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        status = described["StackStatus"]
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
            raise LocalCloudError(
                f"stack {stack_name} ended in {status}: {described.get('StackStatusReason', '')}"
            )

    # --- traces --------------------------------------------------------------
    def _put_segment(self, document: str) -> None:
        from moto.xray.models import xray_backends

        xray_backends[self.account][self.region].process_segment(document)

    def _synthesize_traces(self) -> None:
        """When an execution ends, its segment goes to X-Ray (built from its history).

        The execution and its history are read from the backend, as the API would answer
        them but without its round trip: serialized and parsed again, one history cost the
        cloud's main process 100 ms of CPU per finished execution.
        """
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        while not self._stop_tracing.wait(0.25):
            try:
                backend = stepfunctions_parser_backends[self.account][self.region]
                finished = [
                    (machine.name, execution)
                    for machine in list(backend.state_machines)
                    for execution in list(machine.executions)
                    if execution.status != "RUNNING" and execution.execution_arn not in self._traced
                ]
                for machine_name, execution in finished:
                    history = [  # moto keeps an event's time as the API writes it: ISO 8601 text
                        {**event, "timestamp": datetime.fromisoformat(event["timestamp"])}
                        if isinstance(event["timestamp"], str)
                        else event
                        for event in execution.to_history_output()["events"]
                    ]
                    self.traces.synthesize(execution.to_describe_output(), history, machine_name)
                    self._traced.add(execution.execution_arn)
            except Exception as exc:  # noqa: BLE001 - tracing never stops the cloud; it says why
                LOG.warning("trace synthesis skipped a round: %r", exc)

    def flush_traces(self, timeout: float = 10.0) -> None:
        """Wait until every finished execution has its segment in X-Ray."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            backend = stepfunctions_parser_backends[self.account][self.region]
            pending = [
                e.execution_arn
                for m in list(backend.state_machines)
                for e in list(m.executions)
                if e.status != "RUNNING" and e.execution_arn not in self._traced
            ]
            if not pending:
                return
            time.sleep(0.05)
        raise LocalCloudError("executions finished without their trace segments")

    # --- what the patches call ---------------------------------------
    def _lambda_backend(self) -> Any:
        from moto.awslambda_simple.models import lambda_simple_backends

        return lambda_simple_backends[self.account][self.region]

    def _function(self, name_or_arn: str, qualifier: str | None) -> Any:
        return self._lambda_backend().get_function(name_or_arn, qualifier)

    def _layer(self, arn: str) -> Any:
        return self._lambda_backend().layers_versions_by_arn(arn)

    def _write_logs(self, group: str, stream: str, lines: list[tuple[int, str]]) -> None:
        from moto.logs.models import logs_backends

        logs = logs_backends[self.account][self.region]
        if group not in logs.groups:
            logs.create_log_group(group, {})
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        logs.put_log_events(group, stream, [{"timestamp": t, "message": m} for t, m in lines])

    def _send_dead_letter(self, target_arn: str, event: Any) -> None:
        if ":sqs:" in target_arn:
            from moto.sqs.models import sqs_backends

            sqs_backends[self.account][self.region].send_message(
                target_arn.rsplit(":", 1)[-1], json.dumps(event)
            )
        elif ":sns:" in target_arn:
            from moto.sns.models import sns_backends

            sns_backends[self.account][self.region].publish(json.dumps(event), arn=target_arn)
        else:
            raise LocalCloudError(f"unsupported dead-letter target {target_arn}")

    def start_poller(self, mapping: Any) -> None:
        from moto.sqs.models import sqs_backends

        assert self.lambdas is not None
        lambdas = self.lambdas
        poller = SqsPoller(
            mapping,
            sqs_backends[self.account][self.region],
            lambda arn, event: lambdas.invoke(arn, None, event),
            self.region,
            self.time,
            self.faults,
        )
        self.pollers.append(poller)
        poller.start()

    def deliver_event(self, target: dict[str, Any], event: dict[str, Any]) -> None:
        """Deliver an EventBridge event to a rule's target: Step Functions, Lambda, SQS or SNS.

        The target's ``Input``, ``InputPath`` or ``InputTransformer`` shapes what it
        receives; an SQS or SNS target receives it as the message body (a FIFO queue
        with the target's ``MessageGroupId`` and the event id to deduplicate by). A
        delivery that fails, or a target of a kind the local cloud does not deliver
        to, goes to the target's dead-letter queue, as EventBridge does once its
        retries are spent; without one it is logged and kept in ``delivery_failures``,
        never dropped silently.
        """
        arn: str = target["Arn"]
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        for _ in range(2 if self.faults.strike("events.duplicate", arn) else 1):  # at least once
            self._deliver_once(target, event, arn, service)

    def deliver_nowhere(self, event: dict[str, str]) -> None:
        """An event that no rule on its bus matched: EventBridge accepts it and delivers it to no target.

        PutEvents answers with its event id all the same, so the local cloud logs it and
        keeps it in ``unmatched_events`` (``event_id``, ``bus``, ``source``, ``detail_type``):
        an event of a source or detail-type no rule names starts nothing, and is seen.
        """
        LOG.info(
            "EventBridge: event %s (source %r, detail-type %r) matched no rule on bus %s: delivered nowhere",
            event["event_id"],
            event["source"],
            event["detail_type"],
            event["bus"],
        )
        self.unmatched_events.append(event)

    def _deliver_once(self, target: dict[str, Any], event: dict[str, Any], arn: str, service: str) -> None:
        try:
            payload = _target_input(target, event)
            body = payload if isinstance(payload, str) else json.dumps(payload)
            if service == "states":
                from moto.stepfunctions.parser.models import stepfunctions_parser_backends

                stepfunctions_parser_backends[self.account][self.region].start_execution(
                    arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload)
                )
            elif service == "lambda":
                assert self.lambdas is not None
                self.lambdas.invoke_async(arn, None, payload)
            elif service == "sqs":
                from moto.sqs.models import sqs_backends

                group = (target.get("SqsParameters") or {}).get("MessageGroupId")
                sqs_backends[self.account][self.region].send_message(
                    arn.rsplit(":", 1)[-1],
                    body,
                    group_id=group,
                    deduplication_id=str(event.get("id")) if group else None,
                )
            elif service == "sns":
                from moto.sns.models import sns_backends

                sns_backends[self.account][self.region].publish(body, arn=arn)
            else:
                raise LocalCloudError(f"the local cloud does not deliver to {service or arn} targets")
        except Exception as exc:  # noqa: BLE001 - a failed delivery is recorded, not raised into put_events
            dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dead_letter:
                self._send_dead_letter(dead_letter, _wire_shape(event))
            LOG.error("EventBridge could not deliver event %s to %s: %r", event.get("id"), arn, exc)
            self.delivery_failures.append({"target": arn, "event_id": event.get("id"), "error": repr(exc)})

    def start_sync_execution(
        self, state_machine_arn: str, name: str | None, execution_input: str
    ) -> dict[str, Any]:
        """StartSyncExecution for Express flows, which moto does not implement: run, wait, answer.

        The answer has the shape of AWS's, billing details included (duration rounded
        up to 100 ms, the memory Step Functions bills Express executions for).
        """
        from moto.stepfunctions.exceptions import StateMachineDoesNotExist
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[self.account][self.region]
        try:
            machine = backend.describe_state_machine(state_machine_arn)
        except StateMachineDoesNotExist:
            raise
        if getattr(machine, "type", "STANDARD") != "EXPRESS":
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )
        execution = backend.start_execution(state_machine_arn, name or str(uuid.uuid4()), execution_input)
        deadline = time.monotonic() + 300  # Express executions last at most five minutes
        while execution.status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.002)
        started, stopped = execution.start_date, execution.stop_date or datetime.now(UTC)
        billed_ms = max(100, -(-int((stopped - started).total_seconds() * 1000) // 100) * 100)
        answer: dict[str, Any] = {
            "executionArn": execution.execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": execution.name,
            "startDate": started,
            "stopDate": stopped,
            "status": execution.status if execution.status != "RUNNING" else "TIMED_OUT",
            "input": execution_input,
            "inputDetails": {"included": True},
            "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed_ms},
        }
        if execution.status == "SUCCEEDED":
            answer["output"] = json.dumps(execution.output)
            answer["outputDetails"] = {"included": True}
        for key in ("error", "cause"):
            if getattr(execution, key, None) is not None:
                answer[key] = getattr(execution, key)
        return answer

    # --- reading what happened ------------------------------------------
    def wait_for_execution(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """The execution once it has finished, as DescribeExecution answers it.

        Its status is watched in the backend, the answer read once through the API: a poll through the
        API every few milliseconds cost the cloud's own process a request, and the flow its CPU."""
        deadline = time.monotonic() + timeout
        execution = self._backend_execution(execution_arn)
        # an execution's status is None from its creation to its start, RUNNING while it runs
        while execution is not None and getattr(execution.exec_status, "value", "RUNNING") == "RUNNING":
            if time.monotonic() > deadline:
                raise LocalCloudError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.005)
        return dict(self._waiting_client().describe_execution(executionArn=execution_arn))

    def _backend_execution(self, execution_arn: str) -> Any:
        """The execution as the backend holds it (its ``exec_status`` is current); None when there is
        none, for DescribeExecution to say why."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        region, account = execution_arn.split(":")[3:5]
        try:
            return stepfunctions_parser_backends[account][region].describe_execution(execution_arn)
        except Exception:  # noqa: BLE001 - an unknown execution: DescribeExecution answers its error
            return None

    def _waiting_client(self) -> Any:
        """The Step Functions client the waits share: a new client costs 5 to 10 ms of CPU."""
        if self._waiting is None or self._waiting[0] != self.endpoint:
            self._waiting = (self.endpoint, self.client("stepfunctions"))
        return self._waiting[1]

    def wait_for_new_execution(
        self, deployment: Deployment, known: set[str], timeout: float = 60.0, wait: bool = True
    ) -> dict[str, Any]:
        """An execution of any of the deployment's flows that is not in ``known``.

        With ``wait`` (the default) it is returned once finished; without, as soon as it exists.
        """
        sfn = self._waiting_client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for machine in deployment.state_machines.values():
                for listed in sfn.list_executions(stateMachineArn=machine)["executions"]:
                    if listed["executionArn"] not in known:
                        if not wait:
                            return sfn.describe_execution(executionArn=listed["executionArn"])
                        remaining = max(0.1, deadline - time.monotonic())
                        return self.wait_for_execution(listed["executionArn"], timeout=remaining)
            time.sleep(0.005)
        raise LocalCloudError(f"no flow of {deployment.stack_name} started within {timeout} s")

    def wait_for_executions(
        self, state_machine_arn: str, count: int = 1, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` executions of a machine exist and have finished.

        Each look lists them all through the API, every page, so the looks grow apart (from 5 ms to
        50 ms): a burst's waiting no longer takes the cloud's own process from the runs it waits for."""
        sfn = self._waiting_client()
        pages = sfn.get_paginator("list_executions")
        deadline = time.monotonic() + timeout
        pause = 0.005
        while True:
            listed = [
                e for page in pages.paginate(stateMachineArn=state_machine_arn) for e in page["executions"]
            ]
            if len(listed) >= count and all(e["status"] != "RUNNING" for e in listed):
                return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]
            if time.monotonic() > deadline:
                raise LocalCloudError(
                    f"{len(listed)} of {count} executions of {state_machine_arn} finished in {timeout} s"
                )
            time.sleep(pause)
            pause = min(0.05, pause * 2)


def _stop_promptly(server: Any) -> None:
    """Stop moto's server at once: its serve loop looks at the shutdown request only between
    polls of half a second, or when a connection wakes it, so connections wake it until it stops."""
    address = server._server.server_address[:2]
    stopping = threading.Thread(target=server.stop, name="moto-server-stop")
    stopping.start()
    while stopping.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection(address, timeout=0.1).close()
        stopping.join(0.02)


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """Apply a target's Input, InputPath or InputTransformer, as EventBridge does."""
    from localcloud.patches.stepfunctions.paths import compiled

    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        matches = [m.value for m in compiled(target["InputPath"], extended=False).find(_wire_shape(event))]
        return matches[0] if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        rendered = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return rendered
    return _wire_shape(event)


def _wire_shape(event: dict[str, Any]) -> dict[str, Any]:
    """moto keeps ``time`` as epoch seconds; targets receive the ISO 8601 string."""
    shaped = {k: v for k, v in event.items() if k != "ingestion-time"}  # moto's own bookkeeping
    if isinstance(shaped.get("time"), int | float):
        shaped["time"] = datetime.fromtimestamp(shaped["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return shaped


def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
