"""Versioned prompt templates, shipped as package data in ``generation/prompts/``.

A template file is named ``<purpose>_v<N>.txt`` and holds two parts, each introduced by a
marker line: ``--- system ---`` and ``--- user ---``. Placeholders are ``$name``
(``string.Template``), so text such as "{...}" in a prompt needs no escaping, and values
substituted in (documents with "$240" in them) are never re-read as placeholders.

A changed prompt gets a new file and version rather than an edit in place; in case someone
edits one anyway, ``template_id`` also carries a hash of the content, so caches and eval
results keyed by it never mix two different prompts.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib.resources import files
from string import Template

from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError

_PART = re.compile(r"^--- (system|user) ---[ \t]*$", re.MULTILINE)
_NAME = re.compile(r"^[a-z][a-z0-9_]*_v\d+$")


class PromptTemplate(BaseModel):
    """A system part and a user part with ``$placeholders``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """File stem, e.g. ``answer_v1``: the purpose and the version."""
    system: str
    user: str
    template_id: str
    """``name@hash``: identifies the exact prompt text for caching and eval records."""

    @classmethod
    def parse(cls, name: str, text: str) -> PromptTemplate:
        """Split a template file's text into its parts."""
        pieces = _PART.split(text)
        # re.split with one group gives: [preamble, "system", body, "user", body].
        parts = dict(zip(pieces[1::2], pieces[2::2], strict=True))
        if pieces[0].strip() or sorted(parts) != ["system", "user"] or len(pieces) != 5:
            raise ConfigError(
                f"prompt template {name} must hold exactly a '--- system ---' and a "
                "'--- user ---' part"
            )
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        return cls(
            name=name,
            system=parts["system"].strip("\n"),
            user=parts["user"].strip("\n"),
            template_id=f"{name}@{digest}",
        )

    @property
    def placeholders(self) -> frozenset[str]:
        """The ``$names`` both parts use."""
        names: set[str] = set()
        for part in (self.system, self.user):
            for match in Template.pattern.finditer(part):
                name = match.group("named") or match.group("braced")
                if name:
                    names.add(name)
        return frozenset(names)

    def render(self, **values: str) -> tuple[str, str]:
        """The ``(system, user)`` texts with every placeholder filled in.

        Every placeholder must be given and every value used, so a template and its caller
        cannot drift apart silently.
        """
        missing = self.placeholders - values.keys()
        unused = values.keys() - self.placeholders
        if missing or unused:
            raise ConfigError(
                f"prompt template {self.name}: missing {sorted(missing)}, unused {sorted(unused)}"
            )
        return Template(self.system).substitute(values), Template(self.user).substitute(values)


@cache
def load_template(name: str) -> PromptTemplate:
    """The shipped template ``generation/prompts/<name>.txt``, read once per process."""
    if not _NAME.match(name):
        raise ConfigError(f"not a prompt template name: {name!r} (expected e.g. answer_v1)")
    resource = files("generation") / "prompts" / f"{name}.txt"
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"no prompt template {name} in generation/prompts") from e
    return PromptTemplate.parse(name, text)
