"""moto's patches: one place, read against one moto version, undone when the cloud stops."""

from __future__ import annotations

import json
import pkgutil
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud, patches
from localcloud.cloud import LocalCloudError

ROOT = Path(__file__).resolve().parents[2]


def test_the_patches_are_read_against_the_moto_the_requirements_pin() -> None:
    pinned = re.search(r"^moto==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned is not None
    assert patches.MOTO_VERSION == pinned.group(1)


def test_another_moto_version_stops_the_cloud_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "version", lambda name: "99.0.0")
    with pytest.raises(LocalCloudError, match=r"moto 99\.0\.0 is installed: read each patch"):
        LocalCloud().start()


def test_a_patch_of_something_moto_no_longer_has_fails_loudly() -> None:
    class Module:
        present = 1

    replaced = patches.Patches()
    with pytest.raises(patches.MotoChanged, match="has no 'gone' to patch"):
        replaced.replace(Module, "gone", 2)
    with pytest.raises(patches.MotoChanged, match="now has 'present'"):
        replaced.add(Module, "present", 2)


def test_stopping_the_cloud_gives_moto_back_as_it_was() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    before = (LambdaSimpleBackend.invoke, StepFunctionsParserBackend.start_execution)
    with LocalCloud():
        assert LambdaSimpleBackend.invoke is not before[0]
        with pytest.raises(LocalCloudError, match="already running"):
            LocalCloud().start()
    assert (LambdaSimpleBackend.invoke, StepFunctionsParserBackend.start_execution) == before


def test_every_patch_module_is_in_the_divergence_table() -> None:
    table = (ROOT / "docs" / "local-cloud.md").read_text()
    named = set(re.findall(r"^\| `([a-z_.]+)`", table, re.MULTILINE))
    named |= {
        n.strip("` ")
        for row in re.findall(r"^\| (`[a-z_]+`, `[a-z_]+`)", table, re.MULTILINE)
        for n in row.split(",")
    }
    modules = {m.name for m in pkgutil.iter_modules(patches.__path__) if not m.ispkg}
    from localcloud.patches import stepfunctions

    modules |= {f"stepfunctions.{m.name}" for m in pkgutil.iter_modules(stepfunctions.__path__)}
    assert modules <= named, f"patch modules missing from docs/local-cloud.md: {sorted(modules - named)}"


def test_the_server_answers_as_moto_does_with_what_it_reads_once() -> None:
    """moto's server lists its modules and each response class's methods at every request; read once,
    the answers are the same, and a caller that changes its list does not change the next one's."""
    from moto import backends
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler

    listed = list(backends.list_of_moto_modules())
    named = responses.method_names_from_class(DynamoHandler)
    with LocalCloud():
        assert list(backends.list_of_moto_modules()) == listed
        first = responses.method_names_from_class(DynamoHandler)
        assert first == named
        first.clear()
        assert responses.method_names_from_class(DynamoHandler) == named
    assert list(backends.list_of_moto_modules()) == listed


def test_every_flow_parses_in_sll_to_the_tree_moto_parses_in_ll() -> None:
    """ANTLR's PredictionMode: SLL "will either return a correct parse tree (i.e. the same parse tree that
    would be returned with the LL prediction mode), or it will report a syntax error"."""
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from aiflows.flows import flows
    from localcloud.patches.stepfunctions.distributed_map import _parsed_in_sll, rewrite_definition

    for name, flow in flows().items():
        definition = json.dumps(flow.woven())
        definition = rewrite_definition(definition) or definition
        parsed = _parsed_in_sll(definition)
        assert parsed is not None, f"{name}: SLL refused a definition moto parses"
        _, ll_tree = AmazonStateLanguageParser.parse(definition)
        assert parsed[1].toStringTree(ruleNames=ASLParser.ruleNames) == ll_tree.toStringTree(
            ruleNames=ASLParser.ruleNames
        ), name


@pytest.mark.parametrize(
    ("definition", "error"),
    [
        ('{"StartAt": "A", "States": {"A": {"Type": "Pas", "End": true}}}', 'at "Pas", mismatched input'),
        ('{"StartAt": "A"', "at <EOF>, mismatched input '<EOF>' expecting {',', '}'}"),
    ],
)
def test_a_definition_sll_refuses_gets_the_syntax_errors_of_the_ll_parse(definition: str, error: str) -> None:
    """A definition that is not ASL is refused at CreateStateMachine (InvalidDefinition), with where."""
    with LocalCloud() as cloud, pytest.raises(ClientError) as refused:
        cloud.client("stepfunctions").create_state_machine(
            name="broken", definition=definition, roleArn="arn:aws:iam::123456789012:role/broken"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert error in refused.value.response["Error"]["Message"]
