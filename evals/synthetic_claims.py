"""Synthetic supported and unsupported claims made from our own corpora.

SummEdits and HaluEval test edits of news, dialogue and trivia; the failures that matter in
Citewise's answers are about policy figures: a claim that is right about a figure and wrong
about what the figure is. This module derives labelled (passage, claim) pairs from the text
of a corpus (the sample corpus ``samples/corpus`` and, when present, the Sourcegraph handbook
under ``<shared data>/handbook-sourcegraph/content``):

- ``supported``: a factual sentence of a passage (it states a figure or a name), with the
  passage as evidence;
- ``supported-template``: its figure in a templated claim about the sentence's own subject
  (the words just before the figure: "The hotels reimbursed is capped at $240."), supported
  and clumsy, so that the templates of the ``wrong-subject`` kinds are not a cue by
  themselves and a check that rejects reworded claims shows it;
- ``swap-figure``: one of its figures replaced by a figure of the same shape (an amount, a
  percentage, a year, a count) from elsewhere in the corpus that the passage never states;
- ``negation``: "not" added after the first auxiliary verb, or an existing negation removed;
- ``swap-entity``: a name replaced by a name from a neighbouring passage of the document
  that this passage never mentions;
- ``wrong-subject``: the sentence's figure kept, and the passage kept as evidence, in a
  templated claim about a subject no passage of the corpus covers ("The pet insurance
  allowance is $500.");
- ``wrong-subject-in-passage``: the same, with the subject taken from another sentence of
  the same passage, so the passage does mention it, only not with that figure (the hard case:
  word overlap and similarity both look fine).

A true but irrelevant answer sentence is a question-relevance failure, not a support one (the
sentence *is* supported by its passage); it is not modelled here.

Everything is deterministic: choices come from a ``random.Random`` seeded with the seed and
the sentence. Each pair's ``group`` is its document (splits hold documents out), its
``domain`` the corpus and its ``kind`` the perturbation.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from evals.claim_corpus import (
    FIGURE,
    HANDBOOK_SUBDIR,
    SAMPLE_CORPUS,
    Corpus,
    Passage,
    default_corpora,
    email_body,
    factual_sentences,
    figure_match,
    figure_phrase,
    figure_pool,
    figure_shape,
    handbook_corpus,
    html_to_markdown,
    is_name,
    leading_phrase,
    name_spans,
    passages,
    sample_corpus,
)
from evals.judge_data import LabelledPair
from generation.sentences import sentences
from generation.similarity import facts, words
from generation.subject_check import stem_terms

__all__ = [
    "HANDBOOK_SUBDIR",
    "KINDS",
    "NEGATION",
    "SAMPLE_CORPUS",
    "SUBJECT_POOL",
    "SUPPORTED",
    "SUPPORTED_KINDS",
    "SUPPORTED_TEMPLATE",
    "SWAP_ENTITY",
    "SWAP_FIGURE",
    "SYNTHETIC",
    "WRONG_SUBJECT",
    "WRONG_SUBJECT_IN_PASSAGE",
    "Corpus",
    "Passage",
    "by_kind",
    "by_kind_domain",
    "default_corpora",
    "email_body",
    "factual_sentences",
    "flip_negation",
    "handbook_corpus",
    "html_to_markdown",
    "passages",
    "sample_corpus",
    "supported_template",
    "swap_entity",
    "swap_figure",
    "synthetic_pairs",
    "wrong_subject",
    "wrong_subject_in_passage",
]

SYNTHETIC = "synthetic"
SUPPORTED = "supported"
SWAP_FIGURE = "swap-figure"
NEGATION = "negation"
SWAP_ENTITY = "swap-entity"
WRONG_SUBJECT = "wrong-subject"
WRONG_SUBJECT_IN_PASSAGE = "wrong-subject-in-passage"
SUPPORTED_TEMPLATE = "supported-template"
KINDS = (
    SUPPORTED,
    SUPPORTED_TEMPLATE,
    SWAP_FIGURE,
    NEGATION,
    SWAP_ENTITY,
    WRONG_SUBJECT,
    WRONG_SUBJECT_IN_PASSAGE,
)
SUPPORTED_KINDS = frozenset((SUPPORTED, SUPPORTED_TEMPLATE))

SUBJECT_POOL = (
    "signing bonus",
    "gym membership reimbursement",
    "pet insurance allowance",
    "commuter rail subsidy",
    "childcare voucher",
    "sabbatical bonus",
    "relocation grant",
    "bicycle purchase subsidy",
    "funeral expense grant",
    "language course allowance",
    "wedding gift",
    "retention bonus",
    "dental implant coverage",
    "meal voucher",
    "parking permit refund",
)
"""Benefit and policy subjects for ``wrong-subject`` claims; one is used only when none of
its words occurs in the passage or its heading."""

_TEMPLATES = (
    "The {subject} is {figure}.",
    "The {subject} is capped at {figure}.",
    "Employees receive {figure} for the {subject}.",
    "The company provides {figure} towards the {subject}.",
)
_AUXILIARIES = (
    "is",
    "are",
    "was",
    "were",
    "will",
    "can",
    "must",
    "may",
    "should",
    "could",
    "would",
    "has",
    "have",
)
_NEGATED = re.compile(r"\b(?:(is|are|was|were|will|can|must|may|should|does|do|has|have) not)\b")


def synthetic_pairs(
    corpora: Sequence[Corpus],
    *,
    seed: str = "citewise-synthetic-v1",
    sentences_per_passage: int = 2,
) -> list[LabelledPair]:
    """Labelled pairs from each corpus: per factual sentence (at most
    ``sentences_per_passage`` per passage), the supported pair and each perturbation that
    applies to it."""
    pairs: list[LabelledPair] = []
    for corpus in corpora:
        pool = figure_pool(corpus)
        by_doc: dict[str, list[Passage]] = {}
        for passage in corpus.passages:
            by_doc.setdefault(passage.doc, []).append(passage)
        for passage in corpus.passages:
            for number, sentence in enumerate(factual_sentences(passage)[:sentences_per_passage]):
                rng = random.Random(f"{seed}\0{corpus.name}\0{passage.doc}\0{sentence}")
                made: dict[str, str | None] = {
                    SUPPORTED: sentence,
                    SUPPORTED_TEMPLATE: supported_template(sentence, rng),
                    SWAP_FIGURE: swap_figure(sentence, passage, pool, rng),
                    NEGATION: flip_negation(sentence),
                    SWAP_ENTITY: swap_entity(sentence, passage, by_doc[passage.doc], rng),
                    WRONG_SUBJECT: wrong_subject(sentence, passage, rng),
                    WRONG_SUBJECT_IN_PASSAGE: wrong_subject_in_passage(sentence, passage, rng),
                }
                for kind, claim in made.items():
                    if claim is None or (kind not in SUPPORTED_KINDS and claim == sentence):
                        continue
                    key = f"{corpus.name}/{passage.doc}#{passage.index}.{number}/{kind}"
                    pairs.append(
                        LabelledPair(
                            pair_id=f"synthetic-{_digest(key)}",
                            dataset=SYNTHETIC,
                            domain=corpus.name,
                            group=f"{corpus.name}/{passage.doc}",
                            evidence=passage.text,
                            claim=claim,
                            label=kind in SUPPORTED_KINDS,
                            kind=kind,
                            heading=passage.heading,
                        )
                    )
    return pairs


# --- perturbations -----------------------------------------------------------------------


def swap_figure(
    sentence: str, passage: Passage, pool: dict[str, list[str]], rng: random.Random
) -> str | None:
    """One figure replaced by a same-shaped figure the passage never states."""
    matches = list(FIGURE.finditer(sentence))
    if not matches:
        return None
    match = rng.choice(matches)
    stated = facts(passage.text)
    shape = figure_shape(match)
    figure_end = match.end(4)
    candidates = [f for f in pool.get(shape, []) if not (facts(f) & stated) and f != match.group(0)]
    replacement = rng.choice(candidates) if candidates else _nearby_figure(match, stated, rng)
    if replacement is None:
        return None
    return sentence[: match.start()] + replacement + sentence[figure_end:]


def _nearby_figure(match: re.Match[str], stated: frozenset[str], rng: random.Random) -> str | None:
    """A same-shaped figure near the matched one that ``stated`` lacks (when the corpus has
    no other figure of that shape): 1.75 -> 2.25, $240 -> $360, 11 -> 13."""
    currency, whole, fraction, percent = match.group(1, 2, 3, 4)
    value = float(whole.replace(",", "") + (fraction or ""))
    for _ in range(8):
        if fraction:
            new = f"{value + rng.choice((-0.5, -0.25, 0.25, 0.5)):.{len(fraction) - 1}f}"
        else:
            factor = rng.choice((0.5, 1.5, 2.0))
            changed = value * factor if value >= 20 else value + rng.choice((1, 2, 3))
            new = f"{round(changed):,}" if "," in whole else str(round(changed))
        if float(new.replace(",", "")) > 0 and not facts(new) & stated:
            return f"{currency}{new}{percent}"
    return None


def flip_negation(sentence: str) -> str | None:
    """Remove the sentence's first "<aux> not"/"never"/"n't", else add "not" after its first
    auxiliary verb; None when neither applies."""
    negated = _NEGATED.search(sentence)
    if negated:
        return sentence[: negated.start()] + negated.group(1) + sentence[negated.end() :]
    contracted = re.search(r"\b(do|does|is|are|can|was|were|has|have)n't\b", sentence)
    if contracted:
        return sentence[: contracted.start()] + contracted.group(1) + sentence[contracted.end() :]
    if re.search(r"\bcannot\b", sentence):
        return re.sub(r"\bcannot\b", "can", sentence, count=1)
    if re.search(r"\bnever\b", sentence):
        return re.sub(r"\bnever\b", "always", sentence, count=1)
    aux = re.search(rf"\b({'|'.join(_AUXILIARIES)})\b", sentence)
    if aux is None:
        return None
    return sentence[: aux.end()] + " not" + sentence[aux.end() :]


def swap_entity(
    sentence: str, passage: Passage, document: Sequence[Passage], rng: random.Random
) -> str | None:
    """A name replaced by one from the nearest other passages of the document that this
    passage never mentions."""
    present = words(passage.text)
    ours = [n for n in name_spans(sentence) if is_name(n[0], passage)]
    if not ours:
        return None
    neighbours = sorted(
        (p for p in document if p.index != passage.index),
        key=lambda p: (abs(p.index - passage.index), p.index),
    )
    for neighbour in neighbours[:4]:
        theirs = sorted(
            {
                text
                for text, _, _ in name_spans(neighbour.text)
                if text.lower() not in present and text.isalpha() and is_name(text, neighbour)
            }
        )
        if theirs:
            _, start, end = rng.choice(ours)
            return sentence[:start] + rng.choice(theirs) + sentence[end:]
    return None


def supported_template(sentence: str, rng: random.Random) -> str | None:
    """The sentence's figure in the same templates as ``wrong_subject``, about the sentence's
    own subject: the (at most two) content words just before the figure in its clause, else
    just after it. Supported, if clumsy ("The hotels reimbursed is capped at $240."): the
    control that keeps the templates themselves from being a cue."""
    found = figure_match(sentence, rng)
    if found is None:
        return None
    figure, match = found
    clause_start = max(sentence.rfind(c, 0, match.start()) for c in ",;:(") + 1
    clause_ends = [i for c in ",;:)" if (i := sentence.find(c, match.end())) != -1]
    clause_end = min(clause_ends, default=len(sentence))
    before = _content_words(sentence[clause_start : match.start()])[-2:]
    after = _content_words(sentence[match.end() : clause_end])[:2]
    subject = before or [w for w in after if w not in figure.split()]
    if not subject:
        return None
    return _template(rng).format(subject=" ".join(subject), figure=figure)


def _content_words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text) if stem_terms(w)]


def wrong_subject(sentence: str, passage: Passage, rng: random.Random) -> str | None:
    """The sentence's figure in a templated claim about a subject the passage lacks."""
    figure = figure_phrase(sentence, rng)
    if figure is None:
        return None
    present = stem_terms(f"{passage.heading} {passage.text}")
    subjects = [s for s in SUBJECT_POOL if not stem_terms(s) & present]
    if not subjects:
        return None
    return _template(rng).format(subject=rng.choice(subjects), figure=figure)


def wrong_subject_in_passage(sentence: str, passage: Passage, rng: random.Random) -> str | None:
    """The sentence's figure in a templated claim about a subject (two adjacent content
    words) that another sentence of the same passage talks about, when the figure occurs
    nowhere else in the passage."""
    figure = figure_phrase(sentence, rng)
    if figure is None:
        return None
    figure_facts = facts(figure)
    others = [s for s in sentences(passage.text) if s.strip().lstrip("-*+ ").strip() != sentence]
    if any(figure_facts & facts(s) for s in others):
        return None
    own = stem_terms(sentence)
    subjects = [
        subject
        for other in others
        if (subject := leading_phrase(other)) and not stem_terms(subject) & own
    ]
    if not subjects:
        return None
    return _template(rng).format(subject=rng.choice(sorted(set(subjects))), figure=figure)


def _template(rng: random.Random) -> str:
    return rng.choice(_TEMPLATES)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def by_kind_domain(pair: LabelledPair) -> LabelledPair:
    """A synthetic pair with its perturbation as its domain (for per-kind reports, after
    splitting by corpus and document); other pairs unchanged."""
    if pair.dataset != SYNTHETIC:
        return pair
    return replace(pair, domain=pair.kind)


def by_kind(pairs: Iterable[LabelledPair]) -> dict[str, int]:
    """How many pairs of each kind (for reports)."""
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.kind] = counts.get(pair.kind, 0) + 1
    return counts
