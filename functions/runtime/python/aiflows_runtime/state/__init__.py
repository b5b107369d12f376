"""The run's state: what must outlive one Lambda instance, behind small interfaces.

- :mod:`.ports`: the interfaces (``BreakerStore``, ``AnswerCache``, ``Ledger``,
  ``Reviews``, ``AuditTrail``, ``Checkpoints``) and their values;
- :mod:`.breaker`: the circuit breaker's rules, over any ``BreakerStore``;
- :mod:`.dynamodb`: one adapter per interface on the stack's state table;
- :mod:`.idempotency`: Powertools' idempotency records, completed in the transaction that
  writes the step's last ledger line (imported where it is built: it loads Powertools);
- :mod:`.memory`: one in-memory fake per interface, for unit tests;
- :mod:`.keys`: the table's key schema, the one place a key is spelled;
- :mod:`.items`: items to and from DynamoDB's form, by boto3's serializers.
"""

from .breaker import CircuitBreaker
from .dynamodb import (
    DynamoDBAuditTrail,
    DynamoDBBreakerStore,
    DynamoDBCache,
    DynamoDBCheckpoints,
    DynamoDBLedger,
    DynamoDBReviews,
    dynamodb_client,
)
from .ports import (
    CLOSED,
    DECIDED,
    EXPIRED,
    HALF_OPEN,
    OPEN,
    PENDING,
    AlreadyApproved,
    AlreadyDecided,
    AnswerCache,
    AuditRecord,
    AuditTrail,
    BreakerState,
    BreakerStore,
    CachedAnswer,
    Checkpoints,
    GuardRecord,
    Hold,
    Ledger,
    LedgerEntry,
    OverBudget,
    Review,
    ReviewNotFound,
    Reviews,
    RunTotal,
)

__all__ = [
    "CLOSED",
    "DECIDED",
    "EXPIRED",
    "HALF_OPEN",
    "OPEN",
    "PENDING",
    "AlreadyApproved",
    "AlreadyDecided",
    "AnswerCache",
    "AuditRecord",
    "AuditTrail",
    "BreakerState",
    "BreakerStore",
    "CachedAnswer",
    "Checkpoints",
    "CircuitBreaker",
    "DynamoDBAuditTrail",
    "DynamoDBBreakerStore",
    "DynamoDBCache",
    "DynamoDBCheckpoints",
    "DynamoDBLedger",
    "DynamoDBReviews",
    "GuardRecord",
    "Hold",
    "Ledger",
    "LedgerEntry",
    "OverBudget",
    "Review",
    "ReviewNotFound",
    "Reviews",
    "RunTotal",
    "dynamodb_client",
]
