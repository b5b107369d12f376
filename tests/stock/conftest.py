"""The stock clients' tier: the pinned AWS CLI (and CDK CLI) in subprocesses, against a served local cloud."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud import Deployment, LocalCloud
from tests.stock.cli import PASSED, StockCli


@pytest.fixture(scope="module")
def served(cloud: LocalCloud, app: Deployment, tmp_path_factory: pytest.TempPathFactory) -> StockCli:
    """The module's local cloud, with the app deployed, for the stock CLI at its endpoint."""
    return StockCli(cloud.endpoint, tmp_path_factory.mktemp("aws-home"), region=cloud.region)


@pytest.fixture
def aws(served: StockCli, request: pytest.FixtureRequest) -> Iterator[StockCli]:
    served.test = request.node.nodeid
    yield served
    served.test = ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        PASSED.add(report.nodeid)
