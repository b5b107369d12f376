"""The triage capability."""
