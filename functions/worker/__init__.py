"""The worker capability."""
