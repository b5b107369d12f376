"""The fuzz suite: the capability handlers' fixtures (tests/capabilities), and quiet logs.

Every fuzz case runs its handler in-process against the local cloud with the state table,
the bus, the corpus and the local model that the handler tests use: those fixtures are
imported from ``tests/capabilities/conftest.py``, not copied. How examples run (the
settings every case starts from) and how they are counted: ``tests/fuzz/examples.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from aiflows_runtime.observability import logger
from localcloud import LocalCloud
from tests.capabilities.conftest import (  # noqa: F401 - the handler tests' fixtures, for this folder
    TABLE,
    claim_bucket,
    cloud,
    context,
    create_state_table,
    fresh_model,
    function_env,
)


@pytest.fixture(scope="module")
def state_table(cloud: LocalCloud) -> str:  # noqa: F811 - the fixture imported above, by its name
    """One state table per fuzz module, not per case: each example is a first delivery (its ids are
    its own, tests/fuzz/steps.py), so no record one leaves answers for another; and a case's setup
    stays a fraction of its examples' time."""
    return create_state_table(cloud, f"{TABLE}-fuzz")


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """A step's failure is logged at ERROR (and the tracer logs its traceback) for each refused
    example: thousands of lines that say nothing here, and bury a failure's own."""
    tracer_log = logging.getLogger("aws_lambda_powertools.tracing.tracer")
    levels = logger.log_level, tracer_log.level
    logger.setLevel(logging.CRITICAL)
    tracer_log.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(levels[0])
    tracer_log.setLevel(levels[1])
