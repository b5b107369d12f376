"""Every intrinsic function, with the examples of AWS's documents.

Sources: the developer guide page "Intrinsic functions for JSONPath states in Step
Functions" ("intrinsics page") and the ASL spec's Appendix B.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from tests.localcloud.conformance.conftest import Case, Runner, cases, check, single


def params(**fields: Any) -> dict[str, Any]:
    """A one-Pass machine whose Parameters are ``fields`` (a trailing __ stands for .$)."""
    return single(
        {"Type": "Pass", "Parameters": {key.replace("__", ".$"): value for key, value in fields.items()}}
    )


INTRINSICS = cases(
    Case(
        "States.Format: each {} takes the next argument (ASL spec, Appendix B example)",
        params(foo__=("States.Format('Your name is {}, we are in the year {}', $.name, 2020)")),
        {"name": "Foo", "zebra": "stripe"},
        {"foo": "Your name is Foo, we are in the year 2020"},
    ),
    Case(
        "States.Format: the template may be a Path (intrinsics page, Arnav example)",
        params(greeting__=("States.Format($.template, $.name)")),
        {"name": "Arnav", "template": "Hello, my name is {}."},
        {"greeting": "Hello, my name is Arnav."},
    ),
    Case(
        "States.Format: a boolean, number or null argument is its natural string form (ASL spec, Appendix B)",
        params(s__=("States.Format('{} {} {}', $.b, $.n, $.z)")),
        {"b": True, "n": 42, "z": None},
        {"s": "true 42 null"},
    ),
    Case(
        "States.Format: \\\\' \\\\{ \\\\} \\\\\\\\ in JSON are ' { } \\ in "
        "the value (intrinsics page, reserved characters)",
        params(s__="States.Format('it\\'s \\{{}\\} \\\\ done', $.x)"),
        {"x": "here"},
        {"s": "it's {here} \\ done"},
    ),
    Case(
        "States.Format: escaped quote in a literal, Welcome to {} "
        "{}\\\\'s playlist (ASL spec, Intrinsic Functions)",
        params(greeting__="States.Format('Welcome to {} {}\\'s playlist.', $.firstName, $.lastName)"),
        {"firstName": "Ada", "lastName": "Lovelace"},
        {"greeting": "Welcome to Ada Lovelace's playlist."},
    ),
    Case(
        "States.StringToJson parses an escaped JSON string (ASL spec, Appendix B example)",
        params(foo__="States.StringToJson($.someString)"),
        {"someString": '{"number": 20}', "zebra": "stripe"},
        {"foo": {"number": 20}},
    ),
    Case(
        "States.JsonToString gives the JSON text of the data, "
        '{"name":"Foo","year":2020} (ASL spec, Appendix B)',
        params(foo__="States.JsonToString($.someJson)"),
        {"someJson": {"name": "Foo", "year": 2020}, "zebra": "stripe"},
        {"foo": '{"name":"Foo","year":2020}'},
    ),
    Case(
        "States.Array: strings, numbers, Paths and null, in order (ASL spec, Appendix B example)",
        params(foo__="States.Array('Foo', 2020, $.someJson, null)"),
        {"someJson": {"random": "abcdefg"}, "zebra": "stripe"},
        {"foo": ["Foo", 2020, {"random": "abcdefg"}, None]},
    ),
    Case(
        "States.Array of one Path, BuildId (intrinsics page example)",
        params(BuildId__="States.Array($.Id)"),
        {"Id": 123456},
        {"BuildId": [123456]},
    ),
    Case(
        "States.ArrayPartition chunks by size, the last chunk may be smaller (intrinsics page example)",
        params(inputArray__="States.ArrayPartition($.inputArray,4)"),
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        {"inputArray": [[1, 2, 3, 4], [5, 6, 7, 8], [9]]},
    ),
    Case(
        "States.ArrayContains is true when the value is in the array (intrinsics page example)",
        params(contains__="States.ArrayContains($.inputArray, $.lookingFor)"),
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5},
        {"contains": True},
    ),
    Case(
        "States.ArrayContains is false when it is not (intrinsics page)",
        params(contains__="States.ArrayContains($.inputArray, $.lookingFor)"),
        {"inputArray": [1, 2, 3], "lookingFor": 5},
        {"contains": False},
    ),
    Case(
        "States.ArrayRange(1, 9, 2) is [1,3,5,7,9] (intrinsics page example)",
        params(array__="States.ArrayRange(1, 9, 2)"),
        {},
        {"array": [1, 3, 5, 7, 9]},
    ),
    Case(
        "States.ArrayGetItem returns the value at a zero-based index, 5 gives 6 (intrinsics page example)",
        params(item__="States.ArrayGetItem($.inputArray, $.index)"),
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5},
        {"item": 6},
    ),
    Case(
        "States.ArrayLength returns the length of an array (intrinsics page example)",
        params(length__="States.ArrayLength($.inputArray)"),
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        {"length": 9},
    ),
    Case(
        "States.ArrayUnique removes duplicate values (intrinsics page example)",
        params(array__="States.ArrayUnique($.inputArray)"),
        {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]},
        {"array": [1, 2, 3, 4]},
    ),
    Case(
        "States.Base64Encode encodes MIME Base64, Data to encode (intrinsics page example)",
        params(base64__="States.Base64Encode($.input)"),
        {"input": "Data to encode"},
        {"base64": "RGF0YSB0byBlbmNvZGU="},
    ),
    Case(
        "States.Base64Decode decodes MIME Base64 to the string "
        "(intrinsics page example, its output Decoded data)",
        params(data__="States.Base64Decode($.base64)"),
        {"base64": "RGVjb2RlZCBkYXRh"},
        {"data": "Decoded data"},
    ),
    Case(
        "States.Hash with SHA-1 of input data (intrinsics page example; SHA-1 itself per FIPS 180-4)",
        params(output__="States.Hash($.Data, $.Algorithm)"),
        {"Data": "input data", "Algorithm": "SHA-1"},
        {"output": hashlib.sha1(b"input data").hexdigest()},
    ),
    Case(
        "States.Hash supports MD5, SHA-256, SHA-384 and SHA-512 (intrinsics page)",
        params(
            md5__="States.Hash($.d, 'MD5')",
            sha256__="States.Hash($.d, 'SHA-256')",
            sha384__="States.Hash($.d, 'SHA-384')",
            sha512__="States.Hash($.d, 'SHA-512')",
        ),
        {"d": "input data"},
        {
            "md5": hashlib.md5(b"input data").hexdigest(),
            "sha256": hashlib.sha256(b"input data").hexdigest(),
            "sha384": hashlib.sha384(b"input data").hexdigest(),
            "sha512": hashlib.sha512(b"input data").hexdigest(),
        },
    ),
    Case(
        "States.JsonMerge shallow: the latter object's key replaces the first's (intrinsics page example)",
        params(output__="States.JsonMerge($.json1, $.json2, false)"),
        {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}},
        {"output": {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}},
    ),
    Case(
        "States.MathAdd(111, -1) is 110 (intrinsics page example)",
        params(value1__="States.MathAdd($.value1, $.step)"),
        {"value1": 111, "step": -1},
        {"value1": 110},
    ),
    Case(
        "States.StringSplit on one delimiting character (intrinsics page example)",
        params(array__="States.StringSplit($.inputString, $.splitter)"),
        {"inputString": "1,2,3,4,5", "splitter": ","},
        {"array": ["1", "2", "3", "4", "5"]},
    ),
    Case(
        "States.StringSplit on several delimiting characters, .+,= (intrinsics page example)",
        params(myStringArray__="States.StringSplit($.inputString, $.splitter)"),
        {"inputString": "This.is+a,test=string", "splitter": ".+,="},
        {"myStringArray": ["This", "is", "a", "test", "string"]},
    ),
    Case(
        "Intrinsics nest: the value of a nested intrinsic is its "
        "result (ASL spec, Intrinsic Functions rule 5)",
        params(second__="States.ArrayGetItem(States.StringSplit($.csv, ','), 1)"),
        {"csv": "a,b,c"},
        {"second": "b"},
    ),
    Case(
        "Intrinsics work in ResultSelector too (intrinsics page, fields that support intrinsics)",
        single(
            {
                "Type": "Parallel",
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
                "ResultSelector": {"n.$": "States.ArrayLength($)"},
            }
        ),
        {"a": 1},
        {"n": 1},
    ),
)


@pytest.mark.parametrize("case", INTRINSICS)
def test_intrinsic_functions(run: Runner, case: Case) -> None:
    check(run, case)


def test_math_random_is_an_integer_from_start_inclusive_to_end_exclusive(run: Runner) -> None:
    """States.MathRandom returns a number between start (inclusive) and end (exclusive) (intrinsics page)."""
    result = run(
        params(**{f"r{i}__": "States.MathRandom($.start, $.end)" for i in range(20)}), {"start": 1, "end": 4}
    )
    assert result.status == "SUCCEEDED", result.summary()
    values = list(result.output.values())
    assert all(isinstance(v, int) and 1 <= v < 4 for v in values), values


def test_math_random_with_the_same_seed_returns_identical_numbers(run: Runner) -> None:
    """States.MathRandom with the same seed value returns identical numbers (intrinsics page)."""
    definition = params(a__="States.MathRandom(1, 999, 7)", b__="States.MathRandom(1, 999, 7)")
    first, second = run(definition, {}), run(definition, {})
    assert first.status == second.status == "SUCCEEDED", first.summary()
    assert first.output["a"] == first.output["b"] == second.output["a"]
    assert 1 <= first.output["a"] < 999


def test_uuid_is_a_version_4_uuid(run: Runner) -> None:
    """States.UUID returns a version 4 UUID generated from random numbers (intrinsics page)."""
    result = run(params(a__="States.UUID()", b__="States.UUID()"), {})
    assert result.status == "SUCCEEDED", result.summary()
    parsed = [uuid.UUID(result.output[k]) for k in ("a", "b")]
    assert [p.version for p in parsed] == [4, 4]
    assert [str(p) for p in parsed] == [result.output["a"], result.output["b"]]
    assert parsed[0] != parsed[1]


def test_array_range_of_more_than_1000_items_fails(run: Runner) -> None:
    """States.ArrayRange: the generated array can't contain more than 1000 items (intrinsics page)."""
    result = run(params(array__="States.ArrayRange(1, 2000, 1)"), {})
    assert result.status == "FAILED", result.summary()
