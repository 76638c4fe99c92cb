from generation.sentences import sentences, split_sentences


def test_punkt_keeps_abbreviations_and_decimals_inside_sentences() -> None:
    text = (
        "Dr. Smith approved it on Jan. 5, 2024. The rate is $240.50, i.e. the U.S. rate. "
        "See e.g. section 3.2 for details."
    )
    assert sentences(text) == [
        "Dr. Smith approved it on Jan. 5, 2024.",
        "The rate is $240.50, i.e. the U.S. rate.",
        "See e.g. section 3.2 for details.",
    ]


def test_lines_are_split_first_and_spans_index_the_original() -> None:
    text = "Heading\n\n  - item one\n- item two. Second sentence!\n"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Heading",
        "- item one",
        "- item two.",
        "Second sentence!",
    ]


def test_empty_text_has_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n") == []
