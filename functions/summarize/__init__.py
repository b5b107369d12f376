"""The summarize capability."""
