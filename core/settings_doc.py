"""The settings reference, generated from the settings model.

Walks :class:`core.settings.Settings` (its sections and their fields: type, constraints,
default, description, environment variable) and renders Markdown tables. The tables live in
``docs/configuration.md`` between :data:`BEGIN` and :data:`END`; a unit test fails when they
drift from the model, or when a field has no description.

    python -m core.settings_doc                                 # print the reference
    python -m core.settings_doc --write docs/configuration.md   # regenerate it in place
    python -m core.settings_doc --check docs/configuration.md   # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import enum
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from core.settings import Settings

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
REGENERATE = "python -m core.settings_doc --write docs/configuration.md"
ENV_PREFIX = "CITEWISE_"
ENV_DELIMITER = "__"


@dataclass(frozen=True)
class SettingDoc:
    """One leaf setting: where it lives, how it is typed, its default and meaning."""

    path: tuple[str, ...]
    type: str
    default: str
    description: str | None

    @property
    def key(self) -> str:
        """The dotted name used in YAML files and in the docs (``search.k``)."""
        return ".".join(self.path)

    @property
    def env_var(self) -> str:
        """The environment variable that sets it (``CITEWISE_SEARCH__K``)."""
        return ENV_PREFIX + ENV_DELIMITER.join(part.upper() for part in self.path)


@dataclass(frozen=True)
class SectionDoc:
    """A settings section (a nested model) and its leaf settings, in declaration order."""

    path: tuple[str, ...]
    summary: str
    settings: tuple[SettingDoc, ...]

    @property
    def key(self) -> str:
        """The section's dotted name; empty for the top level."""
        return ".".join(self.path)


def sections(model: type[BaseModel] = Settings) -> list[SectionDoc]:
    """Every section of ``model``, depth first, the top level first."""
    return list(_sections(model, ()))


def undocumented(model: type[BaseModel] = Settings) -> list[str]:
    """Dotted names of the settings that have no description."""
    return [s.key for sec in sections(model) for s in sec.settings if not s.description]


def _sections(model: type[BaseModel], path: tuple[str, ...]) -> Iterator[SectionDoc]:
    leaves: list[SettingDoc] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        section = _section_model(field.annotation)
        if section is not None:
            nested.append((name, section))
        else:
            leaves.append(_setting((*path, name), field))
    yield SectionDoc(path=path, summary=_summary(model), settings=tuple(leaves))
    for name, section in nested:
        yield from _sections(section, (*path, name))


def _section_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _summary(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip()
    return " ".join(doc.split("\n\n", 1)[0].split())


def _setting(path: tuple[str, ...], field: FieldInfo) -> SettingDoc:
    description = " ".join((field.description or "").split()) or None
    return SettingDoc(
        path=path,
        type=_type_name(field.annotation) + _constraints(field),
        default=_default(field),
        description=description,
    )


_SCALARS = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "Path": "path",
    "SecretStr": "secret string",
}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        name = " | ".join(_literal(a) for a in args)
    elif origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        name = " | ".join(names) + (" | null" if type(None) in args else "")
    elif origin is tuple:
        variadic = len(args) == 2 and args[1] is Ellipsis
        name = f"list of {_type_name(args[0])}" if variadic else "list"
    elif isinstance(annotation, type):
        name = _SCALARS.get(annotation.__name__, annotation.__name__)
    else:
        name = str(annotation)
    return name


def _literal(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def _constraints(field: FieldInfo) -> str:
    """Bounds from the field's metadata (annotated-types objects: ``Ge(ge=1)``...)."""
    parts: list[str] = []
    for item in field.metadata:
        for attr, sign in _BOUNDS:
            bound = getattr(item, attr, None)
            if bound is not None:
                parts.append(f"{sign} {bound}")
        min_length = getattr(item, "min_length", None)
        if min_length:
            parts.append(f"at least {min_length}")
    return f" ({', '.join(parts)})" if parts else ""


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    return _value(field.default)


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _value(value.value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, SecretStr):
        return "(secret)"
    return str(value)


def _cell(text: str) -> str:
    """A Markdown table cell: one line, pipes and angle brackets escaped."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "\\<")


def render(model: type[BaseModel] = Settings) -> str:
    """The Markdown reference: one table per section."""
    out: list[str] = [
        f"<!-- generated from core/settings.py by `{REGENERATE}`; do not edit by hand -->",
        "",
    ]
    for section in sections(model):
        if not section.settings:
            continue
        title = f"`{section.key}`" if section.key else "Top level"
        out.append(f"### {title}")
        out.append("")
        if section.summary:
            out.append(section.summary)
            out.append("")
        out.append("| setting | environment variable | type | default | description |")
        out.append("|---|---|---|---|---|")
        for s in section.settings:
            out.append(
                f"| `{s.key}` | `{s.env_var}` | {_cell(s.type)} | `{_cell(s.default)}` "
                f"| {_cell(s.description or '')} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def extract(document: str) -> str:
    """The text between the markers of ``document`` (ValueError when they are missing)."""
    start = document.find(BEGIN)
    end = document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {BEGIN} ... {END} are missing")
    return document[start + len(BEGIN) : end].strip("\n") + "\n"


def replace(document: str, reference: str) -> str:
    """``document`` with the text between its markers replaced by ``reference``."""
    extract(document)  # checks the markers
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{reference.rstrip()}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the reference, write it into a file between its markers, or check that file."""
    parser = argparse.ArgumentParser(
        prog="python -m core.settings_doc", description=__doc__.splitlines()[0]
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="replace FILE's table")
    group.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE is stale")
    args = parser.parse_args(argv)
    reference = render()
    missing = undocumented()
    if missing:
        print(f"settings without a description: {', '.join(missing)}", file=sys.stderr)
    if args.write is not None:
        text = args.write.read_text(encoding="utf-8")
        args.write.write_text(replace(text, reference), encoding="utf-8")
        return 1 if missing else 0
    if args.check is not None:
        current = extract(args.check.read_text(encoding="utf-8"))
        if current != reference:
            print(f"{args.check} is out of date: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 1 if missing else 0
    sys.stdout.write(reference)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
