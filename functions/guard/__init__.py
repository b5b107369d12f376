"""The guard capability."""
