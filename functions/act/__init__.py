"""The act capability."""
