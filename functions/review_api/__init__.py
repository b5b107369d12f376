"""The review API and console (a framework function, not a capability)."""
