"""Prompt files (prompts/*.yaml): a name, a version, declared variables and templates.

Every draft records the prompt name and the content hash of the file it was made with, so a
change to a prompt is visible in the data. Rendering lists every missing variable at once.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError, InputError


def _placeholders(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str  # "<declared version>-<content hash>"
    variables: tuple[str, ...]
    template: str = ""
    messages: tuple[tuple[str, str], ...] = ()
    phrases: dict = field(default_factory=dict)

    def render(self, **values: str) -> str:
        self._check(values)
        return self.template.format(**values)

    def render_messages(self, **values: str) -> list[tuple[str, str]]:
        self._check(values)
        return [(role, t.format(**values)) for role, t in self.messages]

    def _check(self, values: dict) -> None:
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise InputError(f"prompt {self.name} is missing variables: {', '.join(missing)}")

    def phrase(self, lang: str, key: str, **values: str) -> str:
        table = self.phrases.get(lang) or self.phrases.get("en") or {}
        if key not in table:
            raise ConfigError(f"prompt {self.name} has no phrase {key!r} for {lang}")
        return table[key].format(**values) if values else table[key]


def load_prompt(directory: Path, name: str) -> Prompt:
    path = Path(directory) / f"{name}.yaml"
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except FileNotFoundError as exc:
        raise ConfigError(f"prompt file missing: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"prompt file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("name") != name:
        raise ConfigError(f"prompt file {path} must be a mapping with name: {name}")
    variables = tuple(data.get("variables") or ())
    template = data.get("template") or ""
    messages = tuple((m["role"], m["template"]) for m in data.get("messages") or ())
    used = _placeholders(template) | {p for _, t in messages for p in _placeholders(t)}
    if used != set(variables):
        raise ConfigError(
            f"prompt {name}: declared variables {sorted(variables)} do not match the templates' {sorted(used)}"
        )
    digest = hashlib.sha256(raw).hexdigest()[:12]
    return Prompt(name, f"{data.get('version', 0)}-{digest}", variables, template, messages, data.get("phrases") or {})
