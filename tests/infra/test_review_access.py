"""Who may review what, in the user pool: its role groups (docs/reviews.md#who-may-review-what)."""

from __future__ import annotations

from aiflows_runtime.reviews import ADMINS_GROUP, REVIEWERS_GROUP
from tests.infra.conftest import Synthesized


def test_the_reviewers_pool_has_the_two_role_groups_and_no_tenant_of_its_own(
    synthesized: Synthesized,
) -> None:
    pool = synthesized.logical_id(synthesized.stack.review_api.user_pool)
    groups = synthesized.template.find_resources("AWS::Cognito::UserPoolGroup")
    assert sorted(g["Properties"]["GroupName"] for g in groups.values()) == sorted(
        [ADMINS_GROUP, REVIEWERS_GROUP]
    )
    assert all(g["Properties"]["UserPoolId"] == {"Ref": pool} for g in groups.values())
