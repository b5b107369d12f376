"""The repository's pytest configuration: the test kit's fixtures for every test folder."""

pytest_plugins = ["aiflows.testing"]
