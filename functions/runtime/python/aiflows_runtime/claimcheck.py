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
import re
from typing import Any

from aiflows_runtime.errors import InvalidInput, error_code

# Where a batch flow's Distributed Map writes its results in the claim bucket (its ResultWriter's
# Prefix begins so), and what batch_report may list and read.
BATCH_RESULTS_PREFIX = "batches/"
# What S3 can hold: a bucket's name (3 to 63 lowercase letters, digits, dots and hyphens) and a
# key of at most 1,024 bytes of UTF-8. A reference outside them is never read: the step's contract
# (``ObjectRef``) refuses it by its field, where S3 or botocore would answer with an error of theirs.
BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
KEY_BYTES = 1024
# What S3 answers a reference that no retry can read.
_UNREADABLE = ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "InvalidObjectState", "KeyTooLongError")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_text(s3: Any, bucket: str, key: str, text: str) -> dict[str, Any]:
    body = text.encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain; charset=utf-8")
    return {"bucket": bucket, "key": key, "size": len(body), "sha256": sha256(text)}


def readable(ref: Any) -> bool:
    """Whether a reference names something S3 can hold, so that asking for it is a fair question."""
    if not isinstance(ref, dict):
        return False
    bucket, key = ref.get("bucket"), ref.get("key")
    return (
        isinstance(bucket, str)
        and re.fullmatch(BUCKET_NAME, bucket) is not None
        and isinstance(key, str)
        and 0 < len(key.encode("utf-8")) <= KEY_BYTES
    )


def fetch_text(s3: Any, ref: dict[str, Any], field: str = "text_ref") -> str:
    """The text a reference points to; ``InvalidInput`` naming ``field`` when there is none to read."""
    where = f"{field} s3://{ref['bucket']}/{ref['key']}"
    try:
        body = s3.get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
    except Exception as exc:
        code = error_code(exc)
        if code in _UNREADABLE:
            raise InvalidInput(f"{where} cannot be read: {code}") from exc
        raise
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{where} is not UTF-8 text (byte {exc.start} is {body[exc.start]:#04x})"
        ) from None
    if ref.get("sha256") and sha256(text) != ref["sha256"]:
        raise InvalidInput(f"{where} does not match its sha256")
    return text


def resolve_refs(value: Any, s3: Any, path: str = "") -> Any:
    """A copy of ``value`` where every object with a ``text_ref`` and no ``text`` has its text.

    A reference S3 could not hold is left as it is, for the step's contract to refuse by name.
    """
    if isinstance(value, list):
        return [resolve_refs(item, s3, f"{path}{index}.") for index, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    resolved = {key: resolve_refs(item, s3, f"{path}{key}.") for key, item in value.items()}
    ref = resolved.get("text_ref")
    if resolved.get("text") is None and isinstance(ref, dict) and readable(ref):
        resolved["text"] = fetch_text(s3, ref, f"{path}text_ref")
    return resolved


def has_refs(value: Any) -> bool:
    if isinstance(value, list):
        return any(has_refs(item) for item in value)
    if isinstance(value, dict):
        unresolved = value.get("text_ref") is not None and value.get("text") is None
        return unresolved or any(has_refs(v) for v in value.values())
    return False
