"""What a person on call sees: one dashboard per flow, and alarms that point to a runbook.

Alarms (each one's description names its runbook in ``docs/runbooks/``):

- ``<stack>-<flow>-failed-runs``: an execution failed, timed out or was aborted;
- ``<stack>-<flow>-cost-per-run``: the flow's model spend over the runs started in
  an hour passed its cost budget (the hard per-run cap in the definition stops a
  single run; this one watches the average creeping up);
- ``<stack>-<queue>-dlq-not-empty``: a message is waiting in a dead-letter queue;
- ``<stack>-breaker-open``: a model's circuit breaker opened, or refused a call.

Every alarm notifies the alerts topic (KMS-encrypted; CloudWatch may use the key),
on ALARM and on OK. Subscribe to it (``-c alert_email=you@example.com`` at deploy). Under
the development policy (infra/stage.py) the alarms' actions are disabled: they change
state, and show it, but notify nobody (``aws cloudwatch enable-alarm-actions`` turns them on).

The custom metrics come from the runtime's observability module, as EMF records in
the ``AiFlows`` namespace with exactly these dimensions (``service`` is the stage's,
``aiflows`` or ``aiflows-<stage>``, so that two stages' alarms never read each other's):
``FlowCostUSD`` (flow, service), ``BreakerOpen`` (service), ``PendingReviews`` (service), and per model call
``InputTokens``/``OutputTokens`` (flow, capability, model, tenant, service).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.capability_function import SERVICE_ENVIRONMENT
from infra.constructs.flow import Flow
from infra.stage import stage_of

NAMESPACE = SERVICE_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = SERVICE_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
RUNBOOKS = "docs/runbooks"  # where the alarms' descriptions point, unless -c runbook_url=...


@dataclass(frozen=True)
class Runbook:
    file: str  # under docs/runbooks/
    title: str


FAILED_RUNS = Runbook("failed-runs.md", "Failed runs")
COST_PER_RUN = Runbook("cost-per-run.md", "Cost per run over budget")
DLQ_NOT_EMPTY = Runbook("dlq-not-empty.md", "A dead-letter queue is not empty")
BREAKER_OPEN = Runbook("breaker-open.md", "A model's circuit breaker is open")
PARKED = Runbook("parked-runs.md", "Runs are parked")
RUNBOOK_LIST = (FAILED_RUNS, COST_PER_RUN, DLQ_NOT_EMPTY, BREAKER_OPEN, PARKED)


def custom_metric(
    name: str, statistic: str, period: Duration, *, service: str = SERVICE, **dimensions: str
) -> cw.Metric:
    """A metric of the runtime's; ``service`` is the stage's (aiflows, or aiflows-<stage>)."""
    return cw.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={**dimensions, "service": service},
        statistic=statistic,
        period=period,
    )


class Monitoring(Construct):
    """The alerts topic, the stack-wide alarms, and :meth:`watch_flow` for each flow."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        runbook_url: str = RUNBOOKS,
        alert_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = Stack.of(self).stack_name
        stage = stage_of(self)
        self.service = stage.prefix  # the functions' service name: each stage's metrics apart
        self.alarm_actions = stage.policy.alarm_actions  # development: the alarms notify nobody
        self.runbook_url = runbook_url.rstrip("/")
        self.dead_letter_queues = dict(dead_letter_queues)
        key = kms.Key(
            self,
            "AlertsKey",
            enable_key_rotation=True,
            description="Encrypts the aiflows alerts topic; CloudWatch alarms publish with it.",
            removal_policy=stage.policy.key_removal_policy,
        )
        # what CloudWatch needs to publish to the encrypted topic, from this account's alarms only
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(self, "Alerts", master_key=key, enforce_ssl=True)
        if alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))
        self.alarms: list[cw.Alarm] = []
        self.dashboards: dict[str, cw.Dashboard] = {}

        self.dlq_alarms = {
            name: self._alarm(
                f"{name}DlqNotEmpty",
                name=f"{name}-dlq-not-empty",
                metric=queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=Duration.minutes(1)
                ),
                threshold=1,
                runbook=DLQ_NOT_EMPTY,
                summary=f"The {name} dead-letter queue holds a message: work that was not done.",
            )
            for name, queue in self.dead_letter_queues.items()
        }
        self.breaker_alarm = self._alarm(
            "BreakerOpen",
            name="breaker-open",
            metric=custom_metric("BreakerOpen", "Sum", Duration.minutes(5), service=self.service),
            threshold=1,
            runbook=BREAKER_OPEN,
            summary="A model's circuit breaker opened or refused calls: its calls go to fallbacks or fail.",
        )

    def runbook_link(self, runbook: Runbook) -> str:
        return f"{self.runbook_url}/{runbook.file}"

    def _alarm(
        self,
        construct_id: str,
        *,
        name: str,
        metric: cw.IMetric,
        threshold: float,
        runbook: Runbook,
        summary: str,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            alarm_name=f"{self.prefix}-{name}",
            alarm_description=f"{summary} Runbook: {self.runbook_link(runbook)}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            actions_enabled=self.alarm_actions,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        return alarm

    def watch_parked_runs(self, queue: sqs.IQueue) -> cw.Alarm:
        """An alarm while a run waits on the parked-runs queue for someone to resume it."""
        self.parked_alarm = self._alarm(
            "RunsParked",
            name="runs-parked",
            metric=queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=Duration.minutes(1)
            ),
            threshold=1,
            runbook=PARKED,
            summary="A run is parked: a step still failed after its retries, and the run waits to be "
            "resumed or abandoned.",
        )
        return self.parked_alarm

    def watch_flow(self, flow: Flow, *, cost_per_run_usd: float) -> cw.Dashboard:
        """The flow's two alarms and its dashboard."""
        machine, name = flow.state_machine, flow.name
        five = Duration.minutes(5)
        ended = {
            "succeeded": machine.metric_succeeded(statistic="Sum", period=five),
            "failed": machine.metric_failed(statistic="Sum", period=five),
            "timed_out": machine.metric_timed_out(statistic="Sum", period=five),
            "aborted": machine.metric_aborted(statistic="Sum", period=five),
        }
        failed = cw.MathExpression(
            label="failed runs",
            expression="FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)",
            using_metrics={k: v for k, v in ended.items() if k != "succeeded"},
            period=five,
        )
        failed_alarm = self._alarm(
            f"{flow.node.id}FailedRuns",
            name=f"{name}-failed-runs",
            metric=failed,
            threshold=1,
            runbook=FAILED_RUNS,
            summary=f"A {name} run failed, timed out or was aborted.",
        )
        hour = Duration.hours(1)
        cost_per_run = cw.MathExpression(
            label="cost per run (USD)",
            expression="IF(runs > 0, cost / runs, 0)",
            using_metrics={
                "cost": custom_metric("FlowCostUSD", "Sum", hour, service=self.service, flow=name),
                "runs": machine.metric_started(statistic="Sum", period=hour),
            },
            period=hour,
        )
        cost_alarm = self._alarm(
            f"{flow.node.id}CostPerRun",
            name=f"{name}-cost-per-run",
            metric=cost_per_run,
            threshold=cost_per_run_usd,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            runbook=COST_PER_RUN,
            summary=f"{name} spent more than ${cost_per_run_usd} per run on models over the last hour.",
        )
        dashboard = cw.Dashboard(
            self,
            f"{flow.node.id}Dashboard",
            dashboard_name=f"{self.prefix}-{name}",
            default_interval=Duration.days(1),
        )
        dashboard.add_widgets(
            *self._flow_widgets(flow, ended, [failed_alarm, cost_alarm], cost_per_run, cost_per_run_usd)
        )
        self.dashboards[name] = dashboard
        return dashboard

    def _flow_widgets(
        self,
        flow: Flow,
        ended: dict[str, cw.Metric],
        alarms: list[cw.Alarm],
        cost_per_run: cw.MathExpression,
        budget_usd: float,
    ) -> list[cw.IWidget]:
        machine, name = flow.state_machine, flow.name
        five = Duration.minutes(5)
        success_rate = cw.MathExpression(
            label="success rate (%)",
            expression=(
                "100 * FILL(succeeded, 0) / "
                "(FILL(succeeded, 0) + FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0))"
            ),
            using_metrics=ended,
            period=five,
        )

        def tokens(kind: str) -> cw.MathExpression:
            search = (
                f"SEARCH('{{{NAMESPACE},capability,flow,model,service,tenant}} "
                f'MetricName="{kind}Tokens" flow="{name}" service="{self.service}"\', \'Sum\', 300)'
            )
            return cw.MathExpression(expression=search, label="", using_metrics={}, period=five)

        runbooks = " · ".join(f"[{r.title}]({self.runbook_link(r)})" for r in RUNBOOK_LIST)
        return [
            cw.TextWidget(
                markdown=f"# {name}\nRunbooks: {runbooks}. Read one run: `python -m aiflows trace <id>`.",
                width=24,
                height=2,
            ),
            cw.AlarmStatusWidget(
                title="Alarms",
                alarms=[*alarms, self.breaker_alarm, *self.dlq_alarms.values()],
                width=24,
                height=3,
            ),
            cw.GraphWidget(
                title="Runs",
                left=[
                    machine.metric_started(statistic="Sum", period=five, label="started"),
                    *(metric.with_(label=label) for label, metric in ended.items()),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Success rate (%)",
                left=[success_rate],
                left_y_axis=cw.YAxisProps(min=0, max=100),
                width=8,
            ),
            cw.GraphWidget(
                title="Duration (ms)",
                left=[
                    machine.metric_time(statistic="p50", period=five, label="p50"),
                    machine.metric_time(statistic="p95", period=five, label="p95"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Cost per run (USD)",
                left=[cost_per_run],
                left_annotations=[cw.HorizontalAnnotation(value=budget_usd, label="budget")],
                width=8,
            ),
            cw.GraphWidget(title="Input tokens by capability and model", left=[tokens("Input")], width=8),
            cw.GraphWidget(title="Output tokens by capability and model", left=[tokens("Output")], width=8),
            cw.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", period=Duration.minutes(1), label=queue_name
                    )
                    for queue_name, queue in self.dead_letter_queues.items()
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Pending reviews",
                left=[
                    custom_metric("PendingReviews", "Maximum", five, service=self.service).with_(
                        label="pending"
                    )
                ],
                width=12,
            ),
        ]
