"""Prompts as code: versioned template files, rendered strictly.

Each template is ``functions/<capability>/prompts/<version>.toml``, beside the
capability's code, with:

- ``variables``: the names the template uses, declared; rendering with a name
  missing, or with one the template does not declare, fails loudly;
- ``system`` and ``template``: text with ``$name`` placeholders (``string.Template``,
  so JSON braces in a prompt need no escaping);
- ``output_model``: the model of the capability's ``contract.py`` that the
  model's answer must satisfy.

A prompt's id, ``<capability>/<version>``, travels with every model call, so a
result can be traced back to the exact text that produced it.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"\$(?:(\w+)|\{(\w+)\})")


class PromptError(Exception):
    """A template is malformed, or was rendered with the wrong variables."""


@dataclass(frozen=True)
class RenderedPrompt:
    prompt_id: str
    system: str
    text: str
    output_model: str


@dataclass(frozen=True)
class PromptTemplate:
    capability: str
    version: str
    description: str
    variables: tuple[str, ...]
    system: str
    template: str
    output_model: str

    @property
    def prompt_id(self) -> str:
        return f"{self.capability}/{self.version}"

    def render(self, **values: Any) -> RenderedPrompt:
        missing = sorted(set(self.variables) - set(values))
        unknown = sorted(set(values) - set(self.variables))
        if missing or unknown:
            raise PromptError(
                f"prompt {self.prompt_id}: missing variables {missing}, undeclared variables {unknown}"
            )
        text = {k: str(v) for k, v in values.items()}
        return RenderedPrompt(
            prompt_id=self.prompt_id,
            system=string.Template(self.system).substitute(text),
            text=string.Template(self.template).substitute(text),
            output_model=self.output_model,
        )

    def parse(self, rendered_text: str) -> dict[str, str]:
        """Recover the variables from a rendered prompt (the local model reads prompts this way)."""
        pattern = ""
        last = 0
        seen: set[str] = set()
        for match in _PLACEHOLDER.finditer(self.template):
            name = match.group(1) or match.group(2)
            pattern += re.escape(self.template[last : match.start()])
            pattern += f"(?P={name})" if name in seen else f"(?P<{name}>.*?)"
            seen.add(name)
            last = match.end()
        pattern += re.escape(self.template[last:])
        found = re.fullmatch(pattern, rendered_text, flags=re.DOTALL)
        if found is None:
            raise PromptError(f"the text was not rendered from prompt {self.prompt_id}")
        return found.groupdict()


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


@cache
def load(folder: Path, capability: str, version: str) -> PromptTemplate:
    """Load ``<folder>/prompts/<version>.toml``, checking that the declared variables are the used ones."""
    prompt_id = f"{capability}/{version}"
    path = folder / "prompts" / f"{version}.toml"
    if not version or not path.is_file():
        raise PromptError(f"no prompt {prompt_id!r} (looked for {path})")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    template = PromptTemplate(
        capability=capability,
        version=version,
        description=data.get("description", ""),
        variables=tuple(data["variables"]),
        system=data.get("system", ""),
        template=data["template"],
        output_model=data["output_model"],
    )
    used = _placeholders(template.system) | _placeholders(template.template)
    if used != set(template.variables):
        raise PromptError(
            f"prompt {prompt_id} ({path}): declares {sorted(template.variables)} but uses {sorted(used)}"
        )
    return template


def versions(folder: Path) -> list[str]:
    """The prompt versions of a capability folder."""
    return sorted(p.stem for p in (folder / "prompts").glob("*.toml"))
