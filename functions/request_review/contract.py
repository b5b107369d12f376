"""request_review's contracts: the shared review request, for any flow, and the ticket it answers with."""

from __future__ import annotations

from aiflows_runtime.contracts import ReviewRequest, ReviewTicket

__all__ = ["ReviewRequest", "ReviewTicket"]
