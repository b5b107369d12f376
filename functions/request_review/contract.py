"""request_review's contracts: the shared review request, for any flow, and the ticket it answers with."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime import contracts
from aiflows_runtime.contracts import ReviewTicket
from aiflows_runtime.reviews import Role

__all__ = ["ReviewRequest", "ReviewTicket"]


class ReviewRequest(contracts.ReviewRequest):
    """The shared review request, and the role its flow requires of whoever decides (woven in from the
    manifest's ``[review] role``; none: any reviewer of the run's tenant)."""

    role: Role | None = Field(default=None, description="the role deciding needs: reviewer or admin")
