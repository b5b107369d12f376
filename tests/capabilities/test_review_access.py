"""Who may review what, through the review API's handler: tenants, roles, and what each is answered.

Each identity is a Cognito one, as API Gateway's authorizer passes it (its groups in
``cognito:groups``). The matrix of routes and identities, each cell the answer asserted:

    .venv/bin/python -m pytest -q -s tests/capabilities/test_review_access.py -k matrix
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.feedback import FeedbackStore
from aiflows_runtime.reviews import ADMINS_GROUP, REVIEWERS_GROUP, DynamoDBReviews
from localcloud import LocalCloud
from tests.capabilities.conftest import Context, api_request, load_handler
from tests.capabilities.test_handlers import review_request
from tests.capabilities.test_review_api import DETAILS, wait_for_a_person

pytestmark = pytest.mark.usefixtures("function_env")


def identity(*groups: str, email: str = "ada@example.com") -> dict[str, Any]:
    return {"email": email, "sub": email, **({"cognito:groups": ",".join(groups)} if groups else {})}


OWN = "reviewer, own tenant"
OTHER = "reviewer, other tenant"
ADMIN = "admin"
NO_GROUP = "no tenant, no role"
SIGNED_OUT = "unauthenticated"
IDENTITIES: dict[str, dict[str, Any] | None] = {
    OWN: identity(REVIEWERS_GROUP, "tenant:acme"),
    OTHER: identity(REVIEWERS_GROUP, "tenant:globex", email="bob@example.com"),
    ADMIN: identity(ADMINS_GROUP, email="root@example.com"),
    NO_GROUP: identity(email="eve@example.com"),
    SIGNED_OUT: None,
}


def of(tenant: str, run: str, **extra: Any) -> dict[str, Any]:
    """DETAILS of another run (a run has one pending review) and maybe another tenant."""
    subject = {**DETAILS["subject"], "tenant": tenant}
    document = {**DETAILS["document"], "tenant": tenant}
    return {**DETAILS, "correlation_id": run, "subject": subject, "document": document, **extra}


def call(
    context: Context, who: str | dict[str, Any], method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """The handler's answer to ``who`` (one of IDENTITIES, or claims): its status and its body."""
    claims = IDENTITIES[who] if isinstance(who, str) else who
    answer = load_handler("review_api").lambda_handler(api_request(method, path, body, claims), context)
    text = answer["body"]
    kind = answer["multiValueHeaders"]["Content-Type"][0]
    return answer["statusCode"], json.loads(text) if kind == "application/json" else text


def seen(status: int, tenants: list[str]) -> str:
    """A cell: the status, and for a list the tenants of what it holds."""
    return f"{status} {','.join(sorted(set(tenants))) or '-'}" if status == 200 else str(status)


def test_the_matrix_of_routes_and_identities(cloud: LocalCloud, context: Context, state_table: str) -> None:
    # Given acme's reviews (three whose flows wait, one requiring an administrator), and globex's two
    # (one of them decided)
    store = DynamoDBReviews(state_table, client=cloud.client("dynamodb"))
    shown = store.create("token-of-a-stopped-flow", of("acme", "run-shown"))
    own_decides, _ = wait_for_a_person(cloud, state_table, details=of("acme", "run-own"))
    admin_decides, _ = wait_for_a_person(cloud, state_table, details=of("acme", "run-admin"))
    needs_admin, _ = wait_for_a_person(cloud, state_table, details=of("acme", "run-role", role="admin"))
    store.create("token-g2", of("globex", "run-g2"))
    globex = store.create("token-g", of("globex", "run-g"))
    decided = ReviewDecision(review_id=globex, decision="approve", reviewer="bob@example.com")
    store.decide(decided)
    FeedbackStore(state_table, client=cloud.client("dynamodb")).record(store.get(globex), decided)

    def listed(who: str) -> str:
        status, body = call(context, who, "GET", "/reviews")
        return seen(status, [r["tenant"] for r in body["reviews"]] if status == 200 else [])

    def exported(who: str) -> str:
        status, body = call(context, who, "GET", "/feedback.jsonl")
        return seen(
            status, [json.loads(line)["tenant"] for line in body.splitlines()] if status == 200 else []
        )

    def decision(review_id: str | None = None) -> Any:
        def decide(who: str) -> str:
            target = review_id or {OWN: own_decides, ADMIN: admin_decides}.get(who, shown)
            return str(call(context, who, "POST", f"/reviews/{target}/decision", {"decision": "approve"})[0])

        return decide

    rows: dict[str, tuple[Any, dict[str, str]]] = {
        "GET /reviews": (
            listed,
            {
                OWN: "200 acme",
                OTHER: "200 globex",
                ADMIN: "200 acme,globex",
                NO_GROUP: "200 -",
                SIGNED_OUT: "401",
            },
        ),
        "GET /reviews/{acme's}": (
            lambda who: str(call(context, who, "GET", f"/reviews/{shown}")[0]),
            {OWN: "200", OTHER: "404", ADMIN: "200", NO_GROUP: "404", SIGNED_OUT: "401"},
        ),
        "POST /reviews/{acme's}/decision": (
            decision(),
            {OWN: "200", OTHER: "404", ADMIN: "200", NO_GROUP: "404", SIGNED_OUT: "401"},
        ),
        "POST .../decision, flow needs admin": (
            decision(needs_admin),
            {OWN: "403", OTHER: "404", ADMIN: "200", NO_GROUP: "404", SIGNED_OUT: "401"},
        ),
        "GET /feedback.jsonl": (
            exported,
            {
                OWN: "200 acme",
                OTHER: "200 globex",
                ADMIN: "200 acme,globex",
                NO_GROUP: "200 -",
                SIGNED_OUT: "401",
            },
        ),
    }
    # When each identity asks each route (in this order: the list before any decision)
    answered = {route: {who: ask(who) for who in IDENTITIES} for route, (ask, _) in rows.items()}

    width = max(len(route) for route in rows)
    print(f"\n{'route':<{width}} | " + " | ".join(f"{who:<22}" for who in IDENTITIES))
    for route, cells in answered.items():
        print(f"{route:<{width}} | " + " | ".join(f"{cells[who]:<22}" for who in IDENTITIES))
    # Then each cell is what the identity may see and do
    assert answered == {route: expected for route, (_, expected) in rows.items()}
    # And what was refused changed nothing
    assert store.get(shown).status == "PENDING"
    assert {store.get(r).decision["reviewer"] for r in (own_decides, needs_admin)} == {  # type: ignore[index]
        "ada@example.com",
        "root@example.com",
    }


def test_another_tenants_review_is_answered_as_one_that_does_not_exist(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    store = DynamoDBReviews(state_table, client=cloud.client("dynamodb"))
    globex = store.create("token-g", of("globex", "run-g"))
    store.create("token-a", of("acme", "run-a"))  # acme is a tenant the reviews know
    for path, body in (("/reviews/{}", None), ("/reviews/{}/decision", {"decision": "approve"})):
        method = "POST" if body else "GET"
        theirs = call(context, OWN, method, path.format(globex), body)
        nobodys = call(context, OWN, method, path.format("rv-23456789"), body)
        assert theirs == (404, {"statusCode": 404, "message": f"no review {globex}"})
        assert nobodys == (404, {"statusCode": 404, "message": "no review rv-23456789"})
    assert store.get(globex).status == "PENDING"
    assert call(context, OTHER, "GET", f"/reviews/{globex}")[0] == 200  # globex's reviewer reads it


def test_a_claim_naming_a_tenant_that_does_not_exist_is_403_naming_it(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    # Given reviews of acme only, and a reviewer whose groups also name hooli
    store = DynamoDBReviews(state_table, client=cloud.client("dynamodb"))
    acme = store.create("token-a", of("acme", "run-a"))
    hooli = identity(REVIEWERS_GROUP, "tenant:acme", "tenant:hooli")
    for method, path, body in (
        ("GET", "/reviews", None),
        ("GET", f"/reviews/{acme}", None),
        ("POST", f"/reviews/{acme}/decision", {"decision": "approve"}),
        ("GET", "/feedback.jsonl", None),
    ):
        # Then every route refuses it, naming the tenant, and shows nothing
        status, answer = call(context, hooli, method, path, body)
        assert status == 403, (method, path, answer)
        assert answer["message"].startswith("your sign-in names tenant 'hooli', which has had no review here")
    assert store.get(acme).status == "PENDING"


@pytest.mark.parametrize(
    "malformed", ["rv-nothere", "RV-23456789", "rv-2345678", "rv-234567899", "rv-2345678o"]
)
def test_a_malformed_review_id_is_422_naming_it(context: Context, malformed: str) -> None:
    for method, path, body in (
        ("GET", "/reviews/{}", None),
        ("POST", "/reviews/{}/decision", {"decision": "approve"}),
    ):
        status, answer = call(context, OWN, method, path.format(malformed), body)
        assert status == 422, (method, malformed, answer)
        assert answer["message"].startswith(
            "the request was not accepted: path.review_id: String should match"
        )


def test_the_list_says_who_is_signed_in_and_the_tenants_in_scope(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    DynamoDBReviews(state_table, client=cloud.client("dynamodb")).create("token-a", of("acme", "run-a"))
    assert call(context, OWN, "GET", "/reviews")[1]["signed_in"] == {
        "reviewer": "ada@example.com",
        "role": "reviewer",
        "every_tenant": False,
        "tenants": ["acme"],
    }
    assert call(context, ADMIN, "GET", "/reviews")[1]["signed_in"] == {
        "reviewer": "root@example.com",
        "role": "admin",
        "every_tenant": True,
        "tenants": [],
    }
    assert call(context, NO_GROUP, "GET", "/reviews")[1] == {
        "reviews": [],
        "signed_in": {"reviewer": "eve@example.com", "role": None, "every_tenant": False, "tenants": []},
    }


def test_a_review_requested_with_a_role_keeps_it_and_the_list_shows_it(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    # Given a review step of a flow whose manifest requires an administrator ([review] role, woven in)
    ticket = load_handler("request_review").lambda_handler(
        review_request("rr-1", "token-a", role="admin"), context
    )
    store = DynamoDBReviews(state_table, client=cloud.client("dynamodb"))
    # Then the review keeps the role, and the list says what deciding it needs
    assert store.get(ticket["review_id"]).role == "admin"
    [row] = call(context, ADMIN, "GET", "/reviews")[1]["reviews"]
    assert (row["review_id"], row["role"]) == (ticket["review_id"], "admin")
    # And a reviewer of its tenant reads it, but may not decide it
    status, answer = call(
        context, OWN, "POST", f"/reviews/{ticket['review_id']}/decision", {"decision": "approve"}
    )
    assert (status, answer["message"]) == (
        403,
        f"deciding review {ticket['review_id']} needs the admin role; yours is reviewer",
    )
