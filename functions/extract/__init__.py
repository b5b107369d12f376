"""The extract capability."""
