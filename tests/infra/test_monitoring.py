"""The dashboards and alarms as synthesized: what each shows, what each watches, where each points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from aiflows.flows import flows
from infra.constructs.monitoring import RUNBOOK_LIST, Monitoring
from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]
FLOWS = tuple(flows())
COST_PER_RUN_USD = {name: flow.manifest.cost_per_run_alarm_usd for name, flow in flows().items()}


def resources(synthesized: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synthesized.template.to_json()["Resources"].items() if v["Type"] == kind}


def alarms_by_name(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(synthesized, "AWS::CloudWatch::Alarm").values()
    }


def body_of(dashboard: dict[str, Any]) -> str:
    """The dashboard's JSON body with its tokens (Fn::Join parts) flattened to text."""
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, str):
        return body
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in body["Fn::Join"][1])


def test_each_flow_has_a_dashboard_with_every_figure_an_operator_asks_for(synthesized: Synthesized) -> None:
    dashboards = {
        d["Properties"]["DashboardName"]: d
        for d in resources(synthesized, "AWS::CloudWatch::Dashboard").values()
    }
    assert set(dashboards) == {f"AiFlows-{flow}" for flow in FLOWS}
    for flow in FLOWS:
        body = body_of(dashboards[f"AiFlows-{flow}"])
        machine = synthesized.logical_id(synthesized.stack.flows[flow].state_machine)
        # runs, success rate, p50/p95 duration, of this flow's state machine
        for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionTime"):
            assert f'"{metric}"' in body, (flow, metric)
        assert machine in body
        assert "100 * FILL(succeeded, 0) / (FILL(succeeded, 0) + FILL(failed, 0)" in body
        assert '"stat":"p50"' in body and '"stat":"p95"' in body
        # cost per run against its budget
        assert "IF(runs > 0, cost / runs, 0)" in body and '"FlowCostUSD"' in body
        assert f'"value":{COST_PER_RUN_USD[flow]}' in body
        # tokens by capability and model, of this flow only
        for kind in ("Input", "Output"):
            assert f'MetricName=\\"{kind}Tokens\\" flow=\\"{flow}\\"' in body
        # both dead-letter queues, pending reviews, the alarms, the runbooks
        assert body.count('"ApproximateNumberOfMessagesVisible"') == 2
        assert '"PendingReviews"' in body
        assert '"alarms"' in body
        for runbook in RUNBOOK_LIST:
            assert runbook.file in body


def test_the_alarms_watch_failures_dead_letters_breakers_and_cost(synthesized: Synthesized) -> None:
    alarms = alarms_by_name(synthesized)
    assert set(alarms) == {
        *(f"AiFlows-{flow}-{what}" for flow in FLOWS for what in ("failed-runs", "cost-per-run")),
        "AiFlows-work-dlq-not-empty",
        "AiFlows-event-targets-dlq-not-empty",
        "AiFlows-breaker-open",
        "AiFlows-runs-parked",
    }
    topic = {"Ref": synthesized.logical_id(synthesized.stack.monitoring.topic)}
    for name, alarm in alarms.items():
        # Each one notifies the alerts topic when it fires and when it clears, and stays quiet without data
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic], name
        assert alarm["TreatMissingData"] == "notBreaching", name
        # And names its runbook, which exists
        runbook = alarm["AlarmDescription"].rsplit("Runbook: ", 1)[1]
        assert (ROOT / runbook).is_file(), (name, runbook)

    for flow in FLOWS:
        check_flow_alarms(alarms, flow)
    check_queue_alarms(synthesized, alarms)


def check_flow_alarms(alarms: dict[str, Any], flow: str) -> None:
    failed = alarms[f"AiFlows-{flow}-failed-runs"]
    # a sparse metric is a gap, not a zero: FILL makes the sum defined when only one has data
    assert failed["Metrics"][0]["Expression"] == "FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)"
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in failed["Metrics"][1:]} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }
    assert (failed["Threshold"], failed["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")

    cost = alarms[f"AiFlows-{flow}-cost-per-run"]
    assert cost["Threshold"] == COST_PER_RUN_USD[flow]
    assert cost["ComparisonOperator"] == "GreaterThanThreshold"
    stats = {m["Id"]: m["MetricStat"] for m in cost["Metrics"] if "MetricStat" in m}
    assert stats["cost"]["Metric"]["MetricName"] == "FlowCostUSD"
    assert stats["runs"]["Metric"]["MetricName"] == "ExecutionsStarted"
    assert stats["cost"]["Period"] == stats["runs"]["Period"] == 3600


def check_queue_alarms(synthesized: Synthesized, alarms: dict[str, Any]) -> None:
    dlq = alarms["AiFlows-work-dlq-not-empty"]
    assert (dlq["MetricName"], dlq["Statistic"], dlq["Threshold"]) == (
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        1,
    )
    assert dlq["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.work_queue.dead_letter_queue), "QueueName"]
    }
    parked = alarms["AiFlows-runs-parked"]
    assert (parked["MetricName"], parked["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 1)
    assert parked["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {
                "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.parked_runs.queue), "QueueName"]
            },
        }
    ]
    breaker = alarms["AiFlows-breaker-open"]
    assert (breaker["Namespace"], breaker["MetricName"]) == ("AiFlows", "BreakerOpen")
    assert breaker["Dimensions"] == [{"Name": "service", "Value": "aiflows"}]


def test_the_alerts_topic_is_encrypted_with_a_key_cloudwatch_may_use(synthesized: Synthesized) -> None:
    [topic] = resources(synthesized, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synthesized.template.to_json()["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [
        s for s in statements if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    # only what publishing to the topic needs, and only for this account's alarms
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_runbook_links_can_point_to_a_published_copy() -> None:
    # Given a stack with a runbook URL (cdk deploy -c runbook_url=...)
    stack = cdk.Stack(cdk.App(), "Test")
    from aws_cdk import aws_sqs as sqs

    queue = sqs.Queue(stack, "Dlq")
    Monitoring(
        stack, "Monitoring", dead_letter_queues={"work": queue}, runbook_url="https://docs.example.com/rb/"
    )
    # Then the alarms link there
    descriptions = [
        a["Properties"]["AlarmDescription"]
        for a in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    ]
    assert descriptions and all("Runbook: https://docs.example.com/rb/" in d for d in descriptions)
