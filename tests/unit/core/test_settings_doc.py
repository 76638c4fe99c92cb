"""The settings reference in docs/configuration.md is generated from the settings model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from core.settings_doc import (
    BEGIN,
    END,
    REGENERATE,
    extract,
    main,
    render,
    replace,
    sections,
    undocumented,
)

CONFIGURATION_MD = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_the_docs_table_matches_the_settings_model() -> None:
    documented = extract(CONFIGURATION_MD.read_text(encoding="utf-8"))
    assert documented == render(), (
        f"docs/configuration.md's settings reference is out of date: run `{REGENERATE}`"
    )


def test_every_setting_has_a_description() -> None:
    missing = undocumented()
    assert not missing, (
        f"settings without a description: {', '.join(missing)}; add description= to their "
        f"Field in core/settings*.py, then run `{REGENERATE}`"
    )


def test_every_section_and_nested_section_is_walked() -> None:
    keys = {sec.key for sec in sections()}
    assert {"", "embedding", "search", "llm", "answer", "api", "api.oidc"} <= keys
    rows = {s.key: s for sec in sections() for s in sec.settings}
    assert rows["api.oidc.issuer"].env_var == "CITEWISE_API__OIDC__ISSUER"
    assert rows["data_dir"].env_var == "CITEWISE_DATA_DIR"
    assert rows["search.k"].default == "8"
    assert rows["search.k"].type == "integer (≥ 1, ≤ 100)"
    assert rows["acl.default_groups"].default == "[public]"


class _Inner(BaseModel):
    """An inner section.

    More text that is not the summary.
    """

    mode: str = Field(default="a|b", description="Pipes | and <brackets> are escaped.")
    limit: int | None = Field(default=None, ge=1, description="A bound.")


class _Outer(BaseModel):
    """The outer model."""

    name: str = "x"
    inner: _Inner = _Inner()


def test_render_escapes_cells_and_flags_missing_descriptions() -> None:
    text = render(_Outer)
    assert "### Top level\n\nThe outer model." in text
    assert "### `inner`\n\nAn inner section.\n" in text
    assert (
        "| `inner.mode` | `CITEWISE_INNER__MODE` | string | `a\\|b` "
        "| Pipes \\| and \\<brackets> are escaped. |"
    ) in text
    assert "| `inner.limit` | `CITEWISE_INNER__LIMIT` | integer \\| null (≥ 1) | `null` |" in text
    assert undocumented(_Outer) == ["name"]


def test_write_replaces_only_the_text_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text(f"# Prose\n\n{BEGIN}\nstale\n{END}\n\nMore prose.\n", encoding="utf-8")
    assert main(["--check", str(doc)]) == 1
    assert main(["--write", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(f"# Prose\n\n{BEGIN}\n")
    assert text.endswith(f"{END}\n\nMore prose.\n")
    assert extract(text) == render()
    assert main(["--check", str(doc)]) == 0
    assert replace(text, render()) == text


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        extract("# no markers here\n")
