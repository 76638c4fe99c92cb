"""Answer relevance with the hashing fake embedder (shared words make similar vectors)."""

from generation.relevance import AnswerRelevance, asks_for_figure, question_parts, states_figure
from tests.unit.generation.fakes import FakeEmbedder, context

LEAVE = "Every new parent gets 18 weeks of fully paid parental leave."
COFFEE = "The coffee machine on the third floor is cleaned every Friday morning."


def test_questions_asking_for_a_quantity() -> None:
    assert asks_for_figure("How long is paid parental leave?")
    assert asks_for_figure("How quickly must an incident be reported, and to whom?")
    assert asks_for_figure("What is the maximum hotel rate?")
    assert not asks_for_figure("Who approves expense reports above $5,000?")
    assert not asks_for_figure("How do I request a laptop?")
    assert asks_for_figure("My keyboard died. Is there a budget for getting it fixed?")
    assert asks_for_figure("Is there any money for therapy or a meditation app?")
    assert asks_for_figure("Is there a monthly stipend for internet?")
    assert not asks_for_figure("Is there a way to raise a concern anonymously?")
    assert not asks_for_figure("Is there someone who can help me with a denied claim?")
    assert states_figure("18 weeks") and states_figure("eighteen weeks")
    assert not states_figure("It must be reported like any other incident.")


def test_a_terse_claim_is_scored_by_the_sentence_it_rests_on() -> None:
    relevance = AnswerRelevance(FakeEmbedder())
    question = "How long is paid parental leave for a new parent?"
    bare = relevance.scores(question, ["18 weeks"], [""])[0]
    backed = relevance.claim_scores(question, ["18 weeks"], [LEAVE], [""])[0]
    off = relevance.claim_scores(question, ["Cleaned on Fridays"], [COFFEE], [""])[0]
    assert backed > bare and backed > off


def test_the_quote_for_a_quantity_question_states_a_figure() -> None:
    ctx = context("q", "Parental leave matters to every new parent in the company. " + LEAVE)
    quote = AnswerRelevance(FakeEmbedder()).best_quote(
        "How long is parental leave for a new parent?", ctx.sources
    )
    assert quote is not None and quote.text == LEAVE
    assert ctx.sources[0].text[quote.span[0] : quote.span[1]] == LEAVE


def test_a_question_of_several_parts_is_scored_part_by_part() -> None:
    question = "Which laptops can I pick from, and how soon must I finish the security training?"
    assert question_parts(question) == [
        question,
        "Which laptops can I pick from",
        "how soon must I finish the security training?",
    ]
    assert question_parts("How long is paid parental leave?") == [
        "How long is paid parental leave?"
    ]
    relevance = AnswerRelevance(FakeEmbedder())
    laptops = "You can pick a MacBook Pro or a ThinkPad laptop."
    whole = relevance.scores(question, [laptops])[0]
    by_part = relevance.claim_scores(question, [laptops], [""], [""])[0]
    assert by_part > whole
    # The training part asks for a quantity: a claim without a figure cannot answer it.
    training = "You must finish the security training."
    assert relevance.claim_scores(
        "How soon must I finish the security training?", [training], [""], [""]
    ) == [0.0]


def test_a_frequency_answers_how_often() -> None:
    assert states_figure("Impact awards are handed out quarterly at the kick-off.")
    assert states_figure("Reviews happen twice a year.")
    assert not states_figure("Impact awards recognise great work.")


def test_no_quote_from_a_source_that_never_names_what_the_question_names() -> None:
    ctx = context("q", "Staff can park in the Harbor Street garage for $9 per day.")
    relevance = AnswerRelevance(FakeEmbedder())
    assert relevance.best_quote("What does parking cost at the Berlin office?", ctx.sources) is None
    assert relevance.best_quote("What does parking in the garage cost?", ctx.sources) is not None


def test_a_question_of_two_sentences_names_nothing_by_its_second_capital() -> None:
    ctx = context("q", "Staff who drive their own car are reimbursed $0.67 per mile driven.")
    quote = AnswerRelevance(FakeEmbedder()).best_quote(
        "I'm driving my own car to a site. What do I get back per mile?", ctx.sources
    )
    assert quote is not None and "$0.67" in quote.text
