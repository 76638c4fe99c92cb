import pytest

from core.errors import ConfigError
from generation.templates import PromptTemplate, load_template


def test_shipped_templates_load_with_their_parts_and_placeholders() -> None:
    answer = load_template("answer_v1")
    assert answer.placeholders == {"abstention", "sources", "question"}
    assert "only the numbered sources" in answer.system
    assert answer.template_id.startswith("answer_v1@")
    condense = load_template("condense_v1")
    assert condense.placeholders == {"history", "question"}


def test_template_id_changes_with_the_text() -> None:
    one = PromptTemplate.parse("x_v1", "--- system ---\nA\n--- user ---\n$q\n")
    two = PromptTemplate.parse("x_v1", "--- system ---\nB\n--- user ---\n$q\n")
    assert one.template_id != two.template_id
    assert (
        one.template_id
        == PromptTemplate.parse("x_v1", "--- system ---\nA\n--- user ---\n$q\n").template_id
    )


def test_render_fills_every_placeholder_and_leaves_dollars_in_values_alone() -> None:
    template = PromptTemplate.parse("x_v1", "--- system ---\nRules\n--- user ---\nQ: $q\n")
    assert template.render(q="Is $240 the $limit?") == ("Rules", "Q: Is $240 the $limit?")


def test_render_rejects_missing_and_unused_values() -> None:
    template = PromptTemplate.parse("x_v1", "--- system ---\nRules\n--- user ---\nQ: $q\n")
    with pytest.raises(ConfigError, match="missing"):
        template.render()
    with pytest.raises(ConfigError, match="unused"):
        template.render(q="a", extra="b")


@pytest.mark.parametrize(
    "text",
    [
        "no parts at all",
        "--- system ---\nonly a system part\n",
        "preamble\n--- system ---\nA\n--- user ---\nB\n",
        "--- system ---\nA\n--- user ---\nB\n--- user ---\nC\n",
    ],
)
def test_malformed_templates_are_rejected(text: str) -> None:
    with pytest.raises(ConfigError):
        PromptTemplate.parse("x_v1", text)


@pytest.mark.parametrize("name", ["answer", "../answer_v1", "answer_v9"])
def test_unknown_or_unsafe_template_names_are_rejected(name: str) -> None:
    with pytest.raises(ConfigError):
        load_template(name)
