"""The batch_report capability's contracts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiflows_runtime.claimcheck import BATCH_RESULTS_PREFIX
from aiflows_runtime.contracts import Contract, StepInput

FAILURES_LISTED = 100  # what one report (and its batch.completed event, at most 256 KB) lists


class BatchReportInput(StepInput):
    batch_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    tenant: str = Field(min_length=1, max_length=64)
    results_prefix: str = Field(
        min_length=len(BATCH_RESULTS_PREFIX) + 1,
        pattern=rf"^{BATCH_RESULTS_PREFIX}",
        description="the ResultWriter's Prefix, the run's own: its Map Run's result files are under it",
    )
    within_tolerance: bool = Field(
        default=True, description="false when the Map failed past its tolerated failures"
    )


class BatchFailure(Contract):
    """A document the batch did not process, and why."""

    document_id: str | None = Field(description="None when the item had none (a malformed line)")
    status: Literal["FAILED", "TIMED_OUT", "ABORTED", "PENDING"]
    error: str | None = None
    cause: str | None = None


class BatchReportOutput(Contract):
    batch_id: str
    tenant: str
    documents: int = Field(ge=0, description="every item the Map Run read")
    processed: int = Field(ge=0)
    failed: int = Field(ge=0, description="failed, timed out or aborted")
    not_started: int = Field(ge=0, description="pending when the Map Run stopped")
    failures: list[BatchFailure] = Field(
        max_length=FAILURES_LISTED,
        description=f"each document not processed, with its error (the first {FAILURES_LISTED})",
    )
    failures_not_listed: int = Field(
        ge=0, description="more failures, in the result files the manifest names"
    )
    cost_usd: float = Field(ge=0, description="what the processed documents' model calls cost")
    within_tolerance: bool
    manifest_key: str = Field(description="the Map Run's ResultWriter manifest in the claim bucket")
