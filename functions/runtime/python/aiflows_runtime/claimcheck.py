"""The claim check: large text travels as a reference to S3, and handlers resolve it transparently.

A state carries at most 256 KB in Step Functions, and an EventBridge event as much.
A document whose text is over the guard policy's ``inline_text_limit_bytes`` is
stored in the claim bucket by the validate step and travels as ``text_ref``; a
producer with a larger document puts it in S3 itself and sends the reference.
:func:`resolve_refs` fills ``text`` back in before a step's input is parsed, so
handlers read ``document.text`` whichever way it came, and step outputs never
carry the text.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiflows_runtime.errors import InvalidInput, error_code

# Where a batch flow's Distributed Map writes its results in the claim bucket (its ResultWriter's
# Prefix begins so), and what batch_report may list and read.
BATCH_RESULTS_PREFIX = "batches/"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_text(s3: Any, bucket: str, key: str, text: str) -> dict[str, Any]:
    body = text.encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain; charset=utf-8")
    return {"bucket": bucket, "key": key, "size": len(body), "sha256": sha256(text)}


def fetch_text(s3: Any, ref: dict[str, Any]) -> str:
    try:
        body = s3.get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
    except Exception as exc:
        code = error_code(exc)
        if code in ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied"):
            raise InvalidInput(f"text_ref s3://{ref['bucket']}/{ref['key']} cannot be read: {code}") from exc
        raise
    text = body.decode("utf-8")
    if ref.get("sha256") and sha256(text) != ref["sha256"]:
        raise InvalidInput(f"text_ref s3://{ref['bucket']}/{ref['key']} does not match its sha256")
    return text


def resolve_refs(value: Any, s3: Any) -> Any:
    """A copy of ``value`` where every object with a ``text_ref`` and no ``text`` has its text."""
    if isinstance(value, list):
        return [resolve_refs(item, s3) for item in value]
    if not isinstance(value, dict):
        return value
    resolved = {key: resolve_refs(item, s3) for key, item in value.items()}
    ref = resolved.get("text_ref")
    if isinstance(ref, dict) and resolved.get("text") is None and {"bucket", "key"} <= set(ref):
        resolved["text"] = fetch_text(s3, ref)
    return resolved


def has_refs(value: Any) -> bool:
    if isinstance(value, list):
        return any(has_refs(item) for item in value)
    if isinstance(value, dict):
        unresolved = value.get("text_ref") is not None and value.get("text") is None
        return unresolved or any(has_refs(v) for v in value.values())
    return False
