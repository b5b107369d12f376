"""The function's environment, read once into a pydantic model: logic never reads os.environ."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from aiflows_runtime.state.ports import AUDIT_RETENTION_DAYS


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    state_table_name: str = Field(alias="STATE_TABLE_NAME", min_length=1)
    # the function's region, which Lambda sets: the model gateway calls each model by its id there
    aws_region: str | None = Field(default=None, alias="AWS_REGION")
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME")
    corpus_bucket: str | None = Field(default=None, alias="CORPUS_BUCKET")
    corpus_key: str | None = Field(default=None, alias="CORPUS_KEY")
    claim_bucket: str | None = Field(default=None, alias="CLAIM_BUCKET")
    idempotency_ttl_seconds: int = Field(default=3600, alias="IDEMPOTENCY_TTL_SECONDS", gt=0)
    # the managed guardrails, when the deployment configures them (the guard step)
    bedrock_guardrail_id: str | None = Field(default=None, alias="BEDROCK_GUARDRAIL_ID")
    bedrock_guardrail_version: str = Field(default="DRAFT", alias="BEDROCK_GUARDRAIL_VERSION")
    comprehend_pii_language: str | None = Field(default=None, alias="COMPREHEND_PII_LANGUAGE")
    # every flow's action policy (its actions.toml), for the functions that act or check actions
    action_policies: str = Field(default="{}", alias="ACTION_POLICIES")
    # how long the audit trail keeps a record (docs/reviews.md#the-audit-trail); the stack sets it
    audit_retention_days: int = Field(default=AUDIT_RETENTION_DAYS, alias="AUDIT_RETENTION_DAYS", gt=0)


@cache
def settings() -> RuntimeSettings:
    return RuntimeSettings.model_validate(dict(os.environ))
