"""The validate capability."""
