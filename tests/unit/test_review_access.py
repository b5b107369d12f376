"""Who may review what: an identity's Cognito groups, and what each review route lets it see and decide.

The review API's domain code (functions/review_api/logic.py) against the in-memory reviews,
and the DynamoDB adapter's reads (over moto, in this process): a reviewer's list reads only
their tenants' partitions of the pending index.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aiflows.testing import state_table_like_the_stacks
from aiflows_runtime.reviews import ADMINS_GROUP, REVIEWERS_GROUP
from aiflows_runtime.state import DynamoDBReviews, Review, ReviewNotFound, keys
from aiflows_runtime.state.memory import MemoryReviews
from localcloud.console import dev_claims, dev_claims_from
from tests.conftest import import_function_module
from tests.unit.conftest import Clock

logic = import_function_module("review_api", "logic")


def details(run: str, tenant: str, role: str | None = None) -> dict[str, Any]:
    return {
        "correlation_id": run,
        "flow": "f",
        "subject": {"id": run, "kind": "document", "tenant": tenant},
        **({"role": role} if role else {}),
    }


def claims(*groups: str, email: str = "ada@example.com") -> dict[str, Any]:
    return {"email": email, "sub": "u-1", **({"cognito:groups": ",".join(groups)} if groups else {})}


ACME_REVIEWER = claims(REVIEWERS_GROUP, "tenant:acme")
GLOBEX_REVIEWER = claims(REVIEWERS_GROUP, "tenant:globex")
ADMIN = claims(ADMINS_GROUP)
NOBODY = claims()  # signed in, in no group


@pytest.fixture
def reviews() -> MemoryReviews:
    """Three tenants' reviews: acme's two, globex's one, initech's one (its flow requires an admin)."""
    clock = Clock()
    store = MemoryReviews(clock=clock)
    for run, tenant, role in (("a-1", "acme", None), ("g-1", "globex", None), ("a-2", "acme", None)):
        clock.now += 1
        store.create(f"token-{run}", details(run, tenant, role))
    clock.now += 1
    store.create("token-i-1", details("i-1", "initech", "admin"))
    return store


def who(claimed: dict[str, Any]) -> Any:
    reviewer = logic.reviewer_of(claimed)
    assert reviewer is not None
    return reviewer


def runs(found: list[Any]) -> list[str]:
    return [r.correlation_id for r in found]


# --- the identity ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "groups",
    [
        f"{REVIEWERS_GROUP},tenant:acme,tenant:globex",  # the REST API's form: one comma-separated string
        f"[{REVIEWERS_GROUP} tenant:acme tenant:globex]",  # the HTTP API's form of a list claim
        [REVIEWERS_GROUP, "tenant:acme", "tenant:globex"],  # a list
    ],
)
def test_an_identity_carries_its_role_and_tenants_as_cognito_groups(groups: Any) -> None:
    reviewer = who({"email": "ada@example.com", "cognito:groups": groups})
    assert (reviewer.name, reviewer.role, reviewer.tenants) == (
        "ada@example.com",
        "reviewer",
        frozenset({"acme", "globex"}),
    )
    assert reviewer.scope == frozenset({"acme", "globex"}) and not reviewer.every_tenant


def test_an_administrator_holds_every_role_and_every_tenant() -> None:
    admin = who(claims(REVIEWERS_GROUP, ADMINS_GROUP, "tenant:acme"))
    assert admin.role == "admin" and admin.every_tenant and admin.scope is None
    assert admin.may_decide(None) and admin.may_decide("reviewer") and admin.may_decide("admin")
    reviewer = who(ACME_REVIEWER)
    assert reviewer.may_decide(None) and reviewer.may_decide("reviewer") and not reviewer.may_decide("admin")
    assert not reviewer.may_decide("a role no manifest may name")  # only administrators: the strictest
    assert not who(claims("tenant:acme")).may_decide(None)  # no role: reads, decides nothing


def test_no_identity_is_no_reviewer() -> None:
    assert logic.reviewer_of(None) is None
    assert logic.reviewer_of({}) is None
    assert logic.reviewer_of({"email": "", "cognito:groups": ADMINS_GROUP}) is None


def test_the_development_identity_is_configurable_and_read_as_a_cognito_one() -> None:
    assert who(dev_claims_from({})).role == "admin"  # as before: the console shows every tenant
    tried = who(dev_claims_from({"AIFLOWS_DEV_ROLE": "reviewer", "AIFLOWS_DEV_TENANTS": "acme, globex"}))
    assert (tried.name, tried.role, tried.tenants) == (
        "dev@localhost",
        "reviewer",
        frozenset({"acme", "globex"}),
    )
    assert who(dev_claims("none", ("acme",))).role is None
    with pytest.raises(ValueError, match="role is one of admin, reviewer, none, not 'boss'"):
        dev_claims_from({"AIFLOWS_DEV_ROLE": "boss"})


# --- what each route lets it see ------------------------------------------------------------------
def test_the_list_shows_only_the_reviewers_tenants(reviews: MemoryReviews) -> None:
    assert runs(logic.pending_for(reviews, who(ACME_REVIEWER))) == ["a-1", "a-2"]
    assert runs(logic.pending_for(reviews, who(GLOBEX_REVIEWER))) == ["g-1"]
    assert runs(logic.pending_for(reviews, who(ADMIN))) == ["a-1", "g-1", "a-2", "i-1"]


def test_an_identity_with_no_tenant_and_no_admin_role_sees_nothing(reviews: MemoryReviews) -> None:
    nobody = who(NOBODY)
    assert logic.pending_for(reviews, nobody) == []
    assert logic.scope_of(reviews, nobody) == frozenset()
    with pytest.raises(ReviewNotFound):
        logic.review_for(reviews, nobody, reviews.pending()[0].review_id)
    assert list(logic.feedback_for([{"tenant": "acme"}], frozenset())) == []


def test_a_review_of_another_tenant_is_not_found_as_one_that_does_not_exist(reviews: MemoryReviews) -> None:
    globex = reviews.of_run("g-1")
    assert globex is not None
    assert logic.review_for(reviews, who(GLOBEX_REVIEWER), globex.review_id) == globex
    assert logic.review_for(reviews, who(ADMIN), globex.review_id) == globex
    for review_id in (globex.review_id, "rv-23456789"):
        with pytest.raises(ReviewNotFound) as raised:
            logic.review_for(reviews, who(ACME_REVIEWER), review_id)
        assert raised.value.args == (review_id,)  # the same error, whether it exists or not
    with pytest.raises(ReviewNotFound):
        logic.decidable_by(reviews, who(ACME_REVIEWER), globex.review_id)


def test_a_claim_naming_a_tenant_the_reviews_do_not_know_is_refused_naming_it(reviews: MemoryReviews) -> None:
    assert reviews.tenants() == frozenset({"acme", "globex", "initech"})
    stranger = who(claims(REVIEWERS_GROUP, "tenant:acme", "tenant:hooli", "tenant:"))
    with pytest.raises(
        logic.UnknownTenants, match=r"names tenants '', 'hooli', which have had no review here"
    ):
        logic.pending_for(reviews, stranger)
    with pytest.raises(logic.UnknownTenants):
        logic.review_for(reviews, stranger, reviews.pending()[0].review_id)
    assert len(logic.pending_for(reviews, who(claims(ADMINS_GROUP, "tenant:hooli")))) == 4  # admins: no scope


def test_a_review_whose_flow_requires_a_role_is_decided_only_by_that_role(reviews: MemoryReviews) -> None:
    initech = reviews.of_run("i-1")
    assert initech is not None and initech.role == "admin"
    reviewer = who(claims(REVIEWERS_GROUP, "tenant:initech"))
    assert logic.review_for(reviews, reviewer, initech.review_id) == initech  # read it, yes
    with pytest.raises(
        logic.RoleNeeded, match=rf"deciding review {initech.review_id} needs the admin role; yours"
    ):
        logic.decidable_by(reviews, reviewer, initech.review_id)
    assert logic.decidable_by(reviews, who(ADMIN), initech.review_id) == initech
    acme = reviews.pending(frozenset({"acme"}))[0]
    reader = who(claims("tenant:acme"))
    with pytest.raises(logic.RoleNeeded, match=r"needs the reviewer role; you have none \(aiflows-reviewers"):
        logic.decidable_by(reviews, reader, acme.review_id)


def test_the_feedback_export_covers_only_the_tenants_in_scope() -> None:
    lines = [{"id": "1", "tenant": "acme"}, {"id": "2", "tenant": "globex"}, {"id": "3", "tenant": "acme"}]
    assert [line["id"] for line in logic.feedback_for(lines, frozenset({"acme"}))] == ["1", "3"]
    assert [line["id"] for line in logic.feedback_for(lines, None)] == ["1", "2", "3"]


def test_a_rows_role_is_what_its_flow_requires() -> None:
    def row(role: str | None = None) -> dict[str, Any]:
        return logic.summary(Review("rv-1", "PENDING", 1.0, details("r", "acme", role), None))

    assert row("admin")["role"] == "admin"
    assert row()["role"] is None


# --- the DynamoDB adapter: the reviewer's partitions, and only those ---------------------------------
class Recording:
    """A DynamoDB client that notes which pending-index partitions each query reads."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.partitions: list[str] = []

    def get_paginator(self, name: str) -> Any:
        paginator = self._client.get_paginator(name)
        recording = self

        class Noted:
            def paginate(self, **query: Any) -> Any:
                if query.get("IndexName") == keys.PENDING_INDEX:
                    recording.partitions.append(query["ExpressionAttributeValues"][":pending"]["S"])
                return paginator.paginate(**query)

        return Noted()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def table() -> Iterator[tuple[DynamoDBReviews, Recording]]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        name = state_table_like_the_stacks(ddb, "state")
        recording = Recording(ddb)
        store = DynamoDBReviews(name, client=recording, clock=Clock())
        for run, tenant in (("a-1", "acme"), ("g-1", "globex"), ("i-1", "initech")):
            store.create(f"token-{run}", details(run, tenant))
        yield store, recording


def test_a_reviewers_list_reads_only_their_tenants_partitions(
    table: tuple[DynamoDBReviews, Recording],
) -> None:
    store, recording = table
    assert store.tenants() == frozenset({"acme", "globex", "initech"})
    assert runs(logic.pending_for(store, who(ACME_REVIEWER))) == ["a-1"]
    assert recording.partitions == [keys.pending_index("acme")]
    recording.partitions.clear()
    assert logic.pending_for(store, who(NOBODY)) == []
    assert recording.partitions == []  # no tenant: nothing read at all
    assert len(logic.pending_for(store, who(ADMIN))) == 3
    assert recording.partitions == [keys.pending_index(t) for t in ("acme", "globex", "initech")]
