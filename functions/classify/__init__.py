"""The classify capability."""
