from retrieval.snippets import make_snippet, query_terms


def test_query_terms_drop_stop_words_and_match_on_stems() -> None:
    # Snowball stems: "days" is "day" (five-letter prefixes kept "days").
    assert query_terms("How many vacation days do I get?") == frozenset({"vacat", "day"})
    assert query_terms("expenses") == query_terms("expensed") == frozenset({"expens"})


def test_a_short_text_is_kept_whole_with_matches_marked() -> None:
    snippet = make_snippet("Employees accrue vacation monthly.", "vacation accrual")
    assert snippet.text == "Employees accrue vacation monthly."
    # Snowball keeps "accrual" apart from "accrue" (stem "accru"); their shared five-letter
    # prefix used to match them. An inflection of the same word still matches.
    assert snippet.marked() == "Employees accrue **vacation** monthly."
    accrues = make_snippet("Employees accrue vacation monthly.", "vacation accrues")
    assert accrues.marked() == "Employees **accrue** **vacation** monthly."


def test_a_long_text_is_cut_around_the_densest_matches() -> None:
    filler = "Lorem ipsum dolor sit amet. " * 30
    text = filler + "Parental leave lasts eighteen weeks for every parent. " + filler
    snippet = make_snippet(text, "parental leave weeks", width=120)
    assert len(snippet.text) <= 122
    assert snippet.text.startswith("…") and snippet.text.endswith("…")
    marked = [snippet.text[s:e] for s, e in snippet.highlights]
    assert marked == ["Parental", "leave", "weeks", "parent"]


def test_no_match_gives_the_start_of_the_text() -> None:
    snippet = make_snippet("Alpha beta gamma. " * 40, "zeta", width=50)
    assert snippet.text.startswith("Alpha beta")
    assert snippet.highlights == ()
