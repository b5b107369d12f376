"""CloudWatch in the local cloud: alarms in CloudFormation, which moto does not model.

Importing this module registers a CloudFormation model for ``AWS::CloudWatch::Alarm``:
deploying the stack puts each alarm in moto's CloudWatch (so ``describe_alarms``
lists them, with their runbook links) and gives it the ``Arn`` that the dashboards'
alarm widgets refer to. moto stores alarms and does not evaluate them: they stay in
INSUFFICIENT_DATA locally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.cloudformation.parsing import get_model_map
from moto.cloudwatch.models import (
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.core.common_models import CloudFormationModel

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

ALARM = "AWS::CloudWatch::Alarm"


def _dimensions(raw: list[dict[str, str]] | None) -> list[Dimension]:
    return [Dimension(name=d["Name"], value=str(d["Value"])) for d in raw or []]


def _query(raw: dict[str, Any]) -> MetricDataQuery:
    stat = raw.get("MetricStat")
    return MetricDataQuery(
        query_id=raw["Id"],
        label=raw.get("Label", ""),
        period=raw.get("Period"),
        return_data=raw.get("ReturnData", True),
        expression=raw.get("Expression"),
        metric_stat=MetricStat(
            metric=Metric(
                metric_name=stat["Metric"]["MetricName"],
                namespace=stat["Metric"]["Namespace"],
                dimensions=_dimensions(stat["Metric"].get("Dimensions")),
            ),
            period=stat["Period"],
            stat=stat["Stat"],
            unit=stat.get("Unit"),
        )
        if stat
        else None,
    )


class LocalAlarm(CloudFormationModel):
    """An alarm put through CloudFormation; ``Ref`` is its name, ``Fn::GetAtt Arn`` its ARN."""

    def __init__(self, alarm: Any) -> None:
        self.alarm = alarm

    @staticmethod
    def cloudformation_type() -> str:
        return ALARM

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return str(self.alarm.alarm_arn)

    @property
    def physical_resource_id(self) -> str:
        return str(self.alarm.name)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalAlarm:
        p = cloudformation_json["Properties"]
        backend = cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=p.get("AlarmName") or resource_name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=p.get("Period"),
            threshold=float(p["Threshold"]),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription", ""),
            dimensions=[{"Name": d["Name"], "Value": str(d["Value"])} for d in p.get("Dimensions", [])],
            alarm_actions=[str(a) for a in p.get("AlarmActions", [])],
            ok_actions=[str(a) for a in p.get("OKActions", [])],
            metric_data_queries=[_query(q) for q in p["Metrics"]] if p.get("Metrics") else None,
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(alarm)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> LocalAlarm:
        cls.delete_from_cloudformation_json(
            original_resource.physical_resource_id, cloudformation_json, account_id, region_name
        )
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


get_model_map.cache_clear()  # the map is cached: let it see the model above


def install(patches: Patches, cloud: LocalCloud) -> None:
    """The alarm model registers itself when this module is imported; nothing is replaced."""
