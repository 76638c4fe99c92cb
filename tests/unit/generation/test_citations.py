import pytest

from generation.citations import best_quote, parse_answer, resolve_citations, strip_markers
from tests.unit.generation.fakes import FakeEmbedder, context


@pytest.mark.parametrize(
    ("answer", "text", "cited"),
    [
        ("Leave is 25 days [1].", "Leave is 25 days [1].", (1,)),
        ("Leave is 25 days [1, 3].", "Leave is 25 days [1][3].", (1, 3)),
        ("Leave is 25 days [1; 3].", "Leave is 25 days [1][3].", (1, 3)),
        ("Leave is 25 days [1][3].", "Leave is 25 days [1][3].", (1, 3)),
        ("Leave is 25 days [1-3].", "Leave is 25 days [1][2][3].", (1, 2, 3)),
        ("Leave is 25 days [1\u20133].", "Leave is 25 days [1][2][3].", (1, 2, 3)),
        ("Leave is 25 days [ 2 ].", "Leave is 25 days [2].", (2,)),
        ("Leave is 25 days [Source 2].", "Leave is 25 days [2].", (2,)),
        ("Leave is 25 days [sources: 1, 2].", "Leave is 25 days [1][2].", (1, 2)),
        ("Leave is 25 days [1 and 3].", "Leave is 25 days [1][3].", (1, 3)),
        ("Leave is 25 days [2, 2].", "Leave is 25 days [2].", (2,)),
    ],
)
def test_marker_forms_are_read_and_made_canonical(
    answer: str, text: str, cited: tuple[int, ...]
) -> None:
    parsed = parse_answer(answer, source_count=3)
    assert parsed.text == text
    assert [s.cited for s in parsed.sentences] == [cited]
    assert parsed.dropped == ()


def test_out_of_range_numbers_are_dropped_and_reported() -> None:
    parsed = parse_answer("Leave is 25 days [4]. Sick leave is paid [0][2, 7].", source_count=3)
    assert parsed.text == "Leave is 25 days. Sick leave is paid [2]."
    assert [s.cited for s in parsed.sentences] == [(), (2,)]
    assert [(d.marker, d.numbers) for d in parsed.dropped] == [
        ("[4]", (4,)),
        ("[0]", (0,)),
        ("[2, 7]", (7,)),
    ]
    assert "context has 3" in parsed.dropped[0].reason


def test_a_range_partly_out_of_range_keeps_its_valid_part() -> None:
    parsed = parse_answer("Fact [2-5].", source_count=3)
    assert parsed.text == "Fact [2][3]."
    assert parsed.dropped[0].numbers == (4, 5)


@pytest.mark.parametrize(("marker", "reason"), [("[3-1]", "reversed"), ("[1-500]", "wider")])
def test_unreadable_ranges_are_dropped_whole(marker: str, reason: str) -> None:
    parsed = parse_answer(f"Fact {marker}.", source_count=3)
    assert parsed.text == "Fact."
    assert parsed.dropped[0].marker == marker
    assert reason in parsed.dropped[0].reason


def test_with_no_sources_every_marker_is_dropped() -> None:
    parsed = parse_answer("Fact [1].", source_count=0)
    assert parsed.text == "Fact."
    assert parsed.cited == ()


def test_brackets_that_are_not_markers_are_left_alone() -> None:
    parsed = parse_answer("See clause [note] and version [1.2] [a].", source_count=3)
    assert parsed.text == "See clause [note] and version [1.2] [a]."
    assert parsed.dropped == ()


def test_each_sentence_gets_its_own_numbers() -> None:
    parsed = parse_answer(
        "Employees get 25 days [1]. E.g. Dr. Smith approved it [2]. Managers get 30 [1][3].",
        source_count=3,
    )
    assert [(s.text, s.cited) for s in parsed.sentences] == [
        ("Employees get 25 days [1].", (1,)),
        ("E.g. Dr. Smith approved it [2].", (2,)),
        ("Managers get 30 [1][3].", (1, 3)),
    ]
    assert parsed.sentences[0].claim == "Employees get 25 days."
    assert parsed.cited == (1, 2, 3)


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_it_ends() -> None:
    parsed = parse_answer("Leave is 25 days.[1] Sick leave is paid. [2] Done.", source_count=2)
    assert [(s.text, s.cited) for s in parsed.sentences] == [
        ("Leave is 25 days.[1]", (1,)),
        ("Sick leave is paid. [2]", (2,)),
        ("Done.", ()),
    ]


def test_markers_on_a_line_of_their_own_belong_to_the_line_above() -> None:
    parsed = parse_answer("Leave is 25 days.\n[1][2]", source_count=2)
    assert [(s.text, s.cited) for s in parsed.sentences] == [("Leave is 25 days.\n[1][2]", (1, 2))]


def test_list_items_are_sentences_and_a_leading_marker_stays_on_its_line() -> None:
    parsed = parse_answer(
        "The rules:\n- Hotels up to $240 [1]\n- Meals up to $50 [2]\n[3] Taxis are refunded.",
        source_count=3,
    )
    assert [(s.text, s.cited) for s in parsed.sentences] == [
        ("The rules:", ()),
        ("- Hotels up to $240 [1]", (1,)),
        ("- Meals up to $50 [2]", (2,)),
        ("[3] Taxis are refunded.", (3,)),
    ]
    assert parsed.sentences[1].claim == "Hotels up to $240"


def test_spans_point_into_the_parsed_text() -> None:
    parsed = parse_answer("One fact [1].  Two facts [9] here [2].", source_count=2)
    for sentence in parsed.sentences:
        assert parsed.text[sentence.span[0] : sentence.span[1]] == sentence.text


def test_strip_markers() -> None:
    assert strip_markers("A fact [1][2]. Another [3], yes.") == "A fact. Another, yes."


POLICY = (
    "Travel must be booked through the portal. "
    "Hotel costs are reimbursed up to $240 per night in major cities. "
    "Meals are covered up to $50 per day."
)


def test_the_quote_is_the_source_sentence_that_best_supports_the_claim() -> None:
    quote = best_quote(["The hotel limit is $240 a night in big cities."], POLICY)
    assert quote is not None
    assert quote.text == "Hotel costs are reimbursed up to $240 per night in major cities."
    assert POLICY[quote.span[0] : quote.span[1]] == quote.text


def test_quote_with_an_embedder_agrees_on_a_clear_case() -> None:
    quote = best_quote(["Meals are covered up to $50 each day."], POLICY, FakeEmbedder())
    assert quote is not None
    assert quote.text == "Meals are covered up to $50 per day."


def test_no_quote_without_claims_or_text() -> None:
    assert best_quote([], POLICY) is None
    assert best_quote(["claim"], "  ") is None


def test_citations_resolve_to_their_sources_with_quotes() -> None:
    ctx = context("q", POLICY, "Annual leave is 25 days. Carry-over is capped at 5 days.")
    parsed = parse_answer(
        "Hotels are refunded up to $240 a night [1]. You may carry over 5 days [2].", 2
    )
    citations = resolve_citations(parsed.sentences, ctx)
    assert [c.number for c in citations] == [1, 2]
    first, second = citations
    assert (first.doc_id, first.chunk_ids, first.title) == (
        "doc-1",
        ("chunk-1-a", "chunk-1-b"),
        "Document 1",
    )
    assert first.source_uri == "file:///docs/1.md"
    assert first.section_path == ("Section",) and first.pages == (1,)
    assert first.quote == "Hotel costs are reimbursed up to $240 per night in major cities."
    assert second.quote == "Carry-over is capped at 5 days."


def test_a_source_cited_twice_is_listed_once() -> None:
    ctx = context("q", POLICY)
    parsed = parse_answer("Book in the portal [1]. Meals up to $50 [1].", 1)
    citations = resolve_citations(parsed.sentences, ctx)
    assert len(citations) == 1
