"""worker: summarize a long document from the work queue, heartbeating to its flow.

The flow sends the work with ``sqs:sendMessage.waitForTaskToken`` and waits up to
HeartbeatSeconds between heartbeats. For each message the worker summarizes the
document chunk by chunk, sends SendTaskHeartbeat after each chunk, and ends with
SendTaskSuccess (the summary) or SendTaskFailure (an error the flow can name).
A transient error fails only that message (a partial batch failure): SQS brings
it back, and after maxReceiveCount receives the queue moves it to its DLQ. The
work is idempotent on the task token, so a redelivered message that already
succeeded is not summarized and charged again; and each finished chunk is
checkpointed in the state table, so a message redelivered after a crash (or a
retried run's new message for the same document) resumes at the first chunk not
yet summarized.
"""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiflows_runtime.capability import Capability, ask_model, idempotent_step, register_context
from aiflows_runtime.clients import client
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.errors import TOKEN_GONE, FlowError, TransientError, error_code
from aiflows_runtime.observability import capability_handler, logger
from aiflows_runtime.settings import settings
from aiflows_runtime.state import Checkpoints, DynamoDBCheckpoints

from . import logic
from .contract import ChunkAnswer, WorkItem, WorkResult

CAPABILITY = Capability.at(__file__)
# Report every failed record, even when all fail: SQS returns exactly those.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def sfn() -> Any:
    return client("stepfunctions")


def checkpoints() -> Checkpoints:
    return DynamoDBCheckpoints(settings().state_table_name, client=client("dynamodb"))


def summarize_chunks(item: WorkItem, saved: Checkpoints) -> WorkResult:
    sfn().send_task_heartbeat(taskToken=item.task_token)  # picked up: the flow knows work has started
    text = item.document.body
    parts = logic.chunks(text)
    budget = logic.words_per_chunk(item.max_words, len(parts))
    work_id = logic.work_id(item.correlation_id, text, item.max_words)
    done = saved.done(work_id)
    if done:
        logger.info("resuming", extra={"chunks_done": len(done), "chunks": len(parts)})
    summaries: list[str] = []
    cost = 0.0
    for number, part in enumerate(parts, start=1):
        if number in done:  # summarized and paid for by an earlier delivery of this work
            summaries.append(done[number]["summary"])
            cost += done[number]["cost_usd"]
            continue
        answer = ask_model(
            CAPABILITY, item, item.document.tenant, {"max_words": budget, "text": part}, ChunkAnswer
        )
        summaries.append(answer.value.summary)
        cost += answer.cost_usd
        saved.save(work_id, number, {"summary": answer.value.summary, "cost_usd": answer.cost_usd})
        sfn().send_task_heartbeat(taskToken=item.task_token)
        logger.info("chunk summarized", extra={"chunk": number, "chunks": len(parts)})
    combined = " ".join(summaries)
    words = combined.split()
    truncated = len(words) > item.max_words
    summary = " ".join(words[: item.max_words])
    return WorkResult(
        summary=summary,
        words=min(len(words), item.max_words),
        truncated=truncated,
        chunks=len(parts),
        cost_usd=cost,
    )


@idempotent_step(CAPABILITY.name, key="task_token")
def work(request: WorkItem) -> dict[str, Any]:
    try:
        try:
            result = summarize_chunks(request, checkpoints())
        except TransientError:
            raise  # a partial batch failure: SQS brings the message back
        except FlowError as exc:
            # Nothing a retry can fix: the flow hears it by name, and the message is done.
            sfn().send_task_failure(
                taskToken=request.task_token, error=type(exc).__name__, cause=str(exc)[:32768]
            )
            return {"status": "failed", "error": type(exc).__name__}
        sfn().send_task_success(taskToken=request.task_token, output=result.model_dump_json())
    except Exception as exc:
        if error_code(exc) not in TOKEN_GONE:
            raise
        # The flow stopped waiting (a heartbeat timeout, then a retry with a new token): drop this work.
        logger.warning("the flow no longer waits for this work", extra={"error": error_code(exc)})
        return {"status": "abandoned"}
    return {"status": "succeeded", "chunks": result.chunks}


def record_handler(record: SQSRecord) -> dict[str, Any]:
    try:
        body = json.loads(record.body)
        run = body.get("correlation_id") if isinstance(body, dict) else None
        logger.set_correlation_id(str(run) if run else None)  # its log lines name the run (aiflows logs)
        return handle_item(body)
    except Exception as exc:
        # the error's name only (its message may quote the document); SQS brings the message back
        logger.error(
            "work item failed", extra={"exception_name": type(exc).__name__, "message_id": record.message_id}
        )
        raise


def handle_item(body: Any) -> dict[str, Any]:
    try:
        item = parse_input(body, WorkItem)
    except FlowError as exc:
        token = body.get("task_token") if isinstance(body, dict) else None
        if not token:
            raise  # no one to tell: the message goes to the DLQ after its receives
        sfn().send_task_failure(taskToken=token, error=type(exc).__name__, cause=str(exc)[:32768])
        return {"status": "failed", "error": type(exc).__name__}
    return work(request=item)


@capability_handler(CAPABILITY.name)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    # the batch's failures, a TypedDict: a dict, as Lambda reads it
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=record_handler, processor=processor, context=context
    )
