"""The retrieve capability."""
