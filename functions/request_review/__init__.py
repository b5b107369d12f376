"""The request_review capability."""
