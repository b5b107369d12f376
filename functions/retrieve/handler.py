"""retrieve: the top-k passages of the stack's corpus for a query, with their BM25 scores.

The corpus is a folder of documents deployed to S3 (CORPUS_BUCKET / CORPUS_KEY, a
zip). Each execution environment reads it once, on its first call, and keeps the
index in memory for the calls after.
"""

import io
import zipfile
from functools import cache
from typing import Any

from aiflows_runtime.clients import client
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.observability import capability_handler, trace_method
from aiflows_runtime.settings import settings

from . import logic
from .contract import Passage, RetrieveInput, RetrieveOutput

CAPABILITY = "retrieve"
DOCUMENT_SUFFIXES = (".md", ".txt")


@cache
@trace_method
def index() -> logic.Bm25Index:
    config = settings()
    body = client("s3").get_object(Bucket=config.corpus_bucket, Key=config.corpus_key)["Body"].read()
    chunks: list[logic.Chunk] = []
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith(DOCUMENT_SUFFIXES):
                chunks.extend(logic.passages(name, archive.read(name).decode("utf-8")))
    return logic.Bm25Index(chunks)


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_input(event, RetrieveInput)
    corpus = index()
    hits = corpus.search(request.query, request.top_k)
    passages = [Passage(doc_id=c.doc_id, text=c.text, score=s) for c, s in hits]
    return RetrieveOutput(passages=passages, corpus_size=len(corpus.chunks)).model_dump()
