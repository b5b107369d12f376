"""CloudWatch Logs filter patterns (localcloud/log_filters.py), case by case from the user guide.

AWS: "Filter pattern syntax for metric filters, subscription filters, filter log events, and Live
Tail" (CloudWatch Logs user guide) and its "Supported regular expressions (regex) syntax"; the
examples below are the guide's own where it gives one.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.log_filters import InvalidFilterPattern, compile_pattern

# The guide's three events for OR pattern matching
BOTH, ERROR_ONLY, WARN_ONLY = "ERROR WARN message", "ERROR message", "WARN message"
# The guide's JSON example for selectors
TRAIL = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
# The guide's JSON example for compound conditions
USERS = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)
# The guide's space-delimited example
APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


def matching(pattern: str, *messages: str) -> list[str]:
    compiled = compile_pattern(pattern)
    return [m for m in messages if compiled.matches(m)]


# --- terms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ERROR", [BOTH, ERROR_ONLY]),  # a term
        ("?ERROR ?WARN", [BOTH, ERROR_ONLY, WARN_ONLY]),  # ? makes alternatives
        ("ERROR WARN", [BOTH]),  # several terms: all must appear
        ("ERROR -WARN", [ERROR_ONLY]),  # - excludes a term
        ('"ERROR message"', [ERROR_ONLY]),  # a quoted phrase is one term
        ("", [BOTH, ERROR_ONLY, WARN_ONLY]),  # the empty pattern matches every event
        ("error", []),  # terms are case sensitive
    ],
)
def test_unstructured_terms_match_as_the_guide_says(pattern: str, expected: list[str]) -> None:
    assert matching(pattern, BOTH, ERROR_ONLY, WARN_ONLY) == expected


def test_a_term_matches_inside_a_word_and_an_excluded_quoted_phrase_excludes() -> None:
    # the guide: "ERROR" matches "Exiting with ERRORCODE: -1"; "ERROR" - "Exiting" excludes it
    messages = ("[ERROR] A fatal exception has occurred", "Exiting with ERRORCODE: -1")
    assert matching('"ERROR"', *messages) == list(messages)
    assert matching('"ERROR" - "Exiting"', *messages) == [messages[0]]
    assert matching('"ERROR" -"Exiting"', *messages) == [messages[0]]


def test_a_quoted_identifier_is_the_pattern_the_runbooks_use() -> None:
    # aiflows/ops.py looks a run up with '"<correlation id>"' (a term with hyphens, quoted)
    run = "9f0c2a4e-1b2c-4d5e-8f90-0123456789ab"
    line = json.dumps({"level": "INFO", "correlation_id": run, "message": "model call"})
    assert matching(f'"{run}"', line, json.dumps({"correlation_id": "other"})) == [line]
    assert matching('"REPORT RequestId"', "REPORT RequestId: 1\tDuration: 2 ms", "START RequestId: 1") == [
        "REPORT RequestId: 1\tDuration: 2 ms"
    ]


def test_a_regex_term_is_searched_for() -> None:
    # "Supported regular expressions (regex) syntax": %AUTHORIZED% matches both events
    events = ("[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST", "[OK] anonymous")
    assert matching("%AUTHORIZED%", *events) == list(events[:2])
    assert matching(r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", APACHE, "no address") == [APACHE]
    assert matching("%^[hc]at%", "hat trick", "a cat") == ["hat trick"]


# --- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
        "{ $.eventType = Update* }",
        "{ $.eventType = *Trail }",
        "{ $.eventType = %Update[A-Z]% }",
        "{ $.eventType = * }",
    ],
)
def test_json_patterns_the_guide_gives_match_its_example(pattern: str) -> None:
    assert compile_pattern(pattern).matches(TRAIL)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "PutTrail" }',
        "{ $.sourceIPAddress != 111.111.* }",
        "{ $.arrayKey = 1 }",  # "both {$.users = 1} and {$.users != 1} will fail ... where users is an array"
        "{ $.arrayKey != 1 }",
        "{ $.SomeObject NOT EXISTS }",
        "{ $.ThisFlag IS FALSE }",
        "{ $.eventType IS NULL }",
        "{ $.eventType = Up*ail }",  # "Ev*ent will only match the actual string Ev*ent"
        "{ $.missing != 3 }",
    ],
)
def test_json_patterns_that_do_not_hold_do_not_match(pattern: str) -> None:
    assert not compile_pattern(pattern).matches(TRAIL)


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && '
            "$.actions[2] = nomatch }",
            True,
        ),  # && binds tighter than ||
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && '
            "$.actions[2] = nomatch }",
            False,
        ),
        ("{ $.coordinates[2][0] >= 7 && $.coordinates[0][2] < 2.5 }", True),
    ],
)
def test_json_compound_conditions_follow_the_order_of_operations(pattern: str, matches: bool) -> None:
    # the guide: "() > && > ||"
    assert compile_pattern(pattern).matches(USERS) is matches


@pytest.mark.parametrize(
    ("pattern", "latencies"),
    [
        ("{ $.latency >= 500 }", [500, 900.5]),
        ("{ $.latency > +100 }", [500, 900.5]),
        ("{ $.latency < 10e3 }", [3, 500, 900.5]),
        ("{ $.latency <= 3 }", [3]),
        ("{ $.latency = 500 }", [500]),
        ("{ $.latency != 500 }", [3, 900.5, "fast"]),  # a string is not the number
    ],
)
def test_numeric_comparisons_compare_numbers(pattern: str, latencies: list[object]) -> None:
    events = [json.dumps({"latency": n}) for n in (3, 500, 900.5, "fast")]
    assert matching(pattern, *events) == [json.dumps({"latency": n}) for n in latencies]


def test_a_json_pattern_matches_json_objects_only() -> None:
    assert matching('{ $.level = "INFO" }', "level = INFO", '["INFO"]', '{"level": "INFO"}') == [
        '{"level": "INFO"}'
    ]


# --- space-delimited ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", True),
        ("[..., status_code, bytes]", True),
        ("[ip, user, ..., status_code, bytes]", True),
        ("[ip, user, ...]", True),
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", True),
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", False),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", True),
        ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code = 4* && status_code != 404, bytes]", False),
        ("[ip, user, username, timestamp, request, status_code = 200 || status_code = 404, bytes]", True),
        ("[..., request=*.html*, status_code=4*,]", True),  # the guide's example, a field left unnamed
        ('[ip, user, username = "frank", ...]', True),
        ("[ip, user, username]", False),  # three fields, seven in the event
        ("[ip, ..., bytes = %^15%]", True),
    ],
)
def test_space_delimited_patterns_read_fields_in_order(pattern: str, matches: bool) -> None:
    assert compile_pattern(pattern).matches(APACHE) is matches


# --- refused -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{ $.a = 1", "If a filter pattern starts with '{' it must end with '}'"),
        ("[a, b", "If a filter pattern starts with '[' it must end with ']'"),
        ("abc-def", "Invalid character(s) in term '-'"),  # terms with other characters are quoted
        ('""', "Invalid character(s) in term '\"\"'"),
        ("user@example.com", "Invalid character(s) in term '.@'"),
        ('"unterminated', "Invalid filter pattern"),
        ("{ }", "Invalid filter pattern"),
        ("{ $.a = }", "Invalid filter pattern"),
        ("{ $.a < slow }", "Invalid filter pattern"),  # a numeric comparison takes a number
        ("{ $[0] = 1 }", "Invalid filter pattern"),  # an index follows a property
        ("{ $.a = 1 && }", "Invalid filter pattern"),
        ("{ ($.a = 1 }", "Invalid filter pattern"),
        ("{ $.a IS MAYBE }", "Invalid filter pattern"),
        ("[a, b = 1 && c = 2]", "Invalid filter pattern"),  # a field's conditions are on itself
        ("%something!%", "Invalid filter pattern"),  # "%something!% would be rejected"
        ("%(a)%", "Invalid filter pattern"),  # "The () operator is not supported"
        ("%a% %b% %c%", "Invalid filter pattern"),  # at most 2 regexes in a pattern
    ],
)
def test_a_pattern_that_does_not_parse_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(InvalidFilterPattern) as refused:
        compile_pattern(pattern)
    assert str(refused.value).startswith("Invalid filter pattern")
    assert message in str(refused.value)


# --- properties --------------------------------------------------------------------------------

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_", min_size=1, max_size=8)


@given(terms=st.lists(WORDS, min_size=1, max_size=4), message=st.text(max_size=40))
def test_terms_are_and_and_alternatives_are_or(terms: list[str], message: str) -> None:
    assert compile_pattern(" ".join(terms)).matches(message) == all(t in message for t in terms)
    assert compile_pattern(" ".join(f"?{t}" for t in terms)).matches(message) == any(
        t in message for t in terms
    )
    assert compile_pattern(" ".join(f"-{t}" for t in terms)).matches(message) == (
        not any(t in message for t in terms)
    )


@given(
    document=st.dictionaries(
        WORDS, st.one_of(st.integers(-1000, 1000), WORDS, st.booleans(), st.none()), max_size=5
    ),
    key=WORDS,
    value=WORDS,
)
def test_a_json_equality_is_the_keys_value_and_its_negation_the_rest(
    document: dict[str, object], key: str, value: str
) -> None:
    message = json.dumps(document)
    equal = compile_pattern(f'{{ $.{key} = "{value}" }}').matches(message)
    unequal = compile_pattern(f'{{ $.{key} != "{value}" }}').matches(message)
    missing = compile_pattern(f"{{ $.{key} NOT EXISTS }}").matches(message)
    # a number or a boolean compares as its JSON text; null equals no string
    same = key in document and document[key] is not None and _text(document[key]) == value
    assert equal == same
    assert unequal == (key in document and not same)
    assert missing == (key not in document)


def _text(value: object) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


@given(quoted=st.text(alphabet=st.characters(blacklist_characters='"\\'), min_size=1, max_size=20))
def test_a_quoted_phrase_is_a_substring_match(quoted: str) -> None:
    pattern = compile_pattern(f'"{quoted}"')
    assert pattern.matches(f"before {quoted} after")
    assert pattern.matches(quoted.replace(quoted[0], "", 1)) == (quoted in quoted.replace(quoted[0], "", 1))
