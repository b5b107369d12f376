"""Every step's input contract at its extremes, and its documents' texts by reference.

Properties:
- an extreme input (valid by the contract, at sizes and shapes no example shows: huge
  strings, long lists, many keys, deep nesting, odd unicode, within the 256 KB a state may
  carry) gets an output that satisfies the output contract or a named error, never an
  unhandled one;
- a document whose text is a reference (``text_ref``: to a text, to nothing, to bytes that
  are not UTF-8, to a text whose sha256 differs, or anything ``ObjectRef`` allows) is read,
  or refused with ``InvalidInput`` naming ``document.text_ref``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from aiflows.registry import capabilities
from aiflows_runtime.claimcheck import sha256
from aiflows_runtime.contracts import ObjectRef
from aiflows_runtime.errors import FlowError, InvalidInput
from localcloud import LocalCloud
from tests.capabilities.conftest import Context, load_handler
from tests.fuzz.examples import FUZZ, count
from tests.fuzz.schemas import Mutation, extremes, from_schema
from tests.fuzz.steps import Observed, answered, first_delivery, step_inputs

pytestmark = [
    pytest.mark.usefixtures("function_env", "claim_bucket"),
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),  # an extreme example is large
]

CAPABILITIES = capabilities()
STEPS = sorted(name for name in CAPABILITIES if name != "worker")  # the worker: test_worker_contract.py
EXTREME, REFERENCES = 6, 8  # per step (an extreme example moves some 200 KB through AWS)
# An extreme example is huge by design: shrinking it would take minutes, and show no smaller one.
NO_SHRINK = (Phase.explicit, Phase.generate)


@pytest.mark.parametrize("name", STEPS)
def test_an_extreme_input_gets_an_output_or_a_named_error(
    name: str, cloud: LocalCloud, context: Context
) -> None:
    info = CAPABILITIES[name]
    schema = info.input_model.model_json_schema()
    handler = load_handler(name)
    observed = Observed()

    @settings(FUZZ, max_examples=EXTREME, phases=NO_SHRINK)
    @given(extremes(step_inputs(info), schema))
    def check(mutation: Mutation) -> None:
        count(info.input_model.__name__, "extreme")
        answered(handler, mutation.value, context, info.output_model, observed)

    check()


DOCUMENT_STEPS = [name for name in STEPS if "document" in CAPABILITIES[name].input_model.model_fields]
READABLE = "A claim-checked text: Invoice INV-9, total 90.00 EUR."


def references(
    cloud: LocalCloud, bucket: str
) -> tuple[st.SearchStrategy[dict[str, Any]], st.SearchStrategy[dict[str, Any]]]:
    """References a producer may send: to a text, to a text whose sha256 or encoding is wrong, to
    nothing, and any the ``ObjectRef`` schema allows (bucket and key names S3 may refuse); and, apart,
    the readable ones alone."""
    s3 = cloud.client("s3")
    s3.put_object(Bucket=bucket, Key="refs/text.txt", Body=READABLE.encode())
    s3.put_object(Bucket=bucket, Key="refs/latin-1.txt", Body="Facture n° 9, réglée".encode("latin-1"))
    readable = st.sampled_from(
        [
            {"bucket": bucket, "key": "refs/text.txt"},
            {"bucket": bucket, "key": "refs/text.txt", "size": len(READABLE), "sha256": sha256(READABLE)},
        ]
    )
    unreadable = st.sampled_from(
        [
            {"bucket": bucket, "key": "refs/text.txt", "sha256": "0" * 64},
            {"bucket": bucket, "key": "refs/latin-1.txt"},
            {"bucket": bucket, "key": "refs/nothing-here.txt"},
            {"bucket": "no-such-bucket-anywhere", "key": "refs/text.txt"},
        ]
    )
    # half of them readable, so that the step's work on a referenced text is fuzzed too
    return readable, st.one_of(readable, st.one_of(unreadable, from_schema(ObjectRef.model_json_schema())))


def by_reference(event: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    document = {k: v for k, v in event["document"].items() if k != "text"}
    return {**event, "document": {**document, "text_ref": ref}}


@pytest.mark.parametrize("name", DOCUMENT_STEPS)
def test_a_claim_checked_text_is_read_or_refused_by_name(
    name: str, cloud: LocalCloud, context: Context, claim_bucket: str
) -> None:
    info = CAPABILITIES[name]
    handler = load_handler(name)
    observed = Observed()
    inputs = step_inputs(info).filter(lambda event: event.get("document") is not None)

    readable, any_reference = references(cloud, claim_bucket)

    def check(event: dict[str, Any], ref: dict[str, Any]) -> None:
        count(info.input_model.__name__, "by reference")
        try:
            result = handler.lambda_handler(first_delivery(by_reference(event, ref)), context)
        except InvalidInput as exc:  # a reference that cannot be read is named as the reference
            assert "document.text_ref" in str(exc), str(exc)
            observed.outcomes["refused"] += 1
        except FlowError as exc:  # a step's own verdict on the text it read (a guard's block...)
            assert str(exc).strip()
            observed.outcomes[type(exc).__name__] += 1
        else:
            info.output_model.model_validate(result)
            observed.outcomes["output"] += 1

    settings(FUZZ, max_examples=REFERENCES)(given(inputs, any_reference)(check))()
    # and a readable text is worked on, whichever references the draws above happened to be
    settings(FUZZ, max_examples=2)(given(inputs, readable)(check))()
    assert observed.outcomes["output"] > 0, dict(observed.outcomes)


# The extremes that found a defect, shrunk to one example each, kept as regressions: a guard
# finding quoted every field name unbounded, and a review's details were stored ASCII-escaped (200 KB
# of emoji took 600 KB, past DynamoDB's 400 KB item). (The generated extremes above do not draw them
# at this number of examples.)
FOUND = [
    pytest.param(
        "guard",
        {
            "correlation_id": "found-1",
            "flow": "document_intake",
            "stage": "output",
            "document": {"document_id": "d-1", "tenant": "acme", "text": "Invoice 1."},
            "unsupported": ["\u00e9" * 100_000],
        },
        id="guard: 200 KB of field names",
    ),
    pytest.param(
        "request_review",
        {
            "correlation_id": "found-2",
            "flow": "document_intake",
            "task_token": "found-2-token",
            "subject": {"id": "d-2", "kind": "document", "tenant": "acme"},
            "proposed_action": {"action": "write_record", "payload": {"note": "\U0001f4a9" * 50_000}},
        },
        id="request_review: 200 KB of emoji in the proposed action",
    ),
]


@pytest.mark.parametrize(("name", "event"), FOUND)
def test_an_extreme_that_found_a_defect(name: str, event: dict[str, Any], context: Context) -> None:
    info = CAPABILITIES[name]
    count(info.input_model.__name__, "extreme")
    answered(load_handler(name), event, context, info.output_model, Observed())
