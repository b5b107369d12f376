"""The test kit's assembly cache: one synth for a set of sources, shared by workers and later runs."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from aiflows import testing

# An app that synthesizes nothing but a manifest, slowly, and counts its synths in a file outside
# its own folder (its folder is one of the synth's inputs).
FAKE_APP = """
import os, pathlib, time
time.sleep(0.1)
out = pathlib.Path(os.environ["CDK_OUTDIR"])
out.mkdir(parents=True, exist_ok=True)
(out / "manifest.json").write_text('{"version": "test"}')
with open(os.environ["SYNTH_COUNT_FILE"], "a") as count:
    count.write("synth\\n")
"""


@pytest.fixture
def fake_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(testing, "ASSEMBLY_CACHE", tmp_path / "cache")
    monkeypatch.setenv("SYNTH_COUNT_FILE", str(tmp_path / "synths"))
    (tmp_path / "synths").write_text("")
    script = tmp_path / "fakeapp" / "app.py"
    script.parent.mkdir()
    script.write_text(FAKE_APP)
    return script


def synths(app: Path) -> int:
    return len((app.parents[1] / "synths").read_text().splitlines())


def test_an_assembly_is_synthesized_once_for_its_sources(fake_app: Path) -> None:
    # Given an app synthesized once
    first = testing.cached_assembly(fake_app)
    # When it is asked for again with nothing changed
    again = testing.cached_assembly(fake_app)
    # Then the same assembly answers, and the app ran once
    assert again == first and (first / "manifest.json").is_file()
    assert synths(fake_app) == 1


def test_a_changed_source_or_cdk_variable_is_a_new_synth(
    fake_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = testing.cached_assembly(fake_app)
    # When a file of the app's folder changes, the digest does and the app is synthesized again
    (fake_app.parent / "stack.py").write_text("# a new construct\n")
    edited = testing.cached_assembly(fake_app)
    assert edited != first and synths(fake_app) == 2
    # And so does a variable the CDK reads (the region `cdk synth` passes the app)
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    assert testing.cached_assembly(fake_app) not in (first, edited)
    assert synths(fake_app) == 3


def test_workers_asking_at_once_share_one_synth(fake_app: Path) -> None:
    # Given four callers at once (xdist's workers are processes; the lock is a file's, so threads
    # with their own open files contend the same way)
    answers: list[Path] = []

    def ask() -> None:
        answers.append(testing.cached_assembly(fake_app))

    callers = [threading.Thread(target=ask) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    # Then the app ran once and every caller got its assembly
    assert synths(fake_app) == 1
    assert len(answers) == 4 and len(set(answers)) == 1


def test_only_the_newest_assemblies_of_an_app_are_kept(fake_app: Path) -> None:
    built = []
    for version in range(testing.ASSEMBLIES_KEPT + 2):
        (fake_app.parent / "version.txt").write_text(str(version))
        built.append(testing.cached_assembly(fake_app))
    kept = sorted(p for p in testing.ASSEMBLY_CACHE.iterdir() if not p.name.startswith("."))
    assert kept == sorted(built[-testing.ASSEMBLIES_KEPT :])


def test_the_digest_reads_every_input_make_synth_lists() -> None:
    # The Makefile's SOURCES are what `make synth` rebuilds cdk.out for: the cache's inputs hold them all
    makefile = (testing.ROOT / "Makefile").read_text()
    sources = re.search(r"^SOURCES := (.*)$", makefile, re.MULTILINE)
    assert sources, "the Makefile lists no SOURCES"
    found = re.fullmatch(r"(.*?)\$\(shell find (.*?) -type f.*", sources[1])
    assert found, sources[1]
    listed = found[1].split() + found[2].split()
    assert set(listed) <= set(testing.SYNTH_INPUTS), set(listed) - set(testing.SYNTH_INPUTS)
