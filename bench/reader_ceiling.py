"""The reader's ceiling (trust issue): how often the answering model gets a reference-checked
question right when it is shown only the passages that hold the answer.

Retrieval puts the gold page among the sources for about 3 questions in 4 on the Sourcegraph
handbook set, and the losses the trust issue names are what the model makes of them. This
benchmark takes retrieval out of the question. For each answerable item it finds, in the
evaluation index, the chunk that holds each of the item's verbatim ``evidence`` quotes (a
search for the quote, filtered to the quoted file), and answers the question through the
shipped answer path with exactly those chunks as the search results: the same assembly
(neighbours within the context budget), prompt, model, check and defaults. Outcomes are
graded against the item's ``must_contain`` keys (``evals.reference_checks``), both for what
the reader is shown (the shipped check) and for the model's own text (no check).

If the model cannot reach the goal here, where every passage it sees is about the question,
no retrieval or passage-selection lever can make it reach the goal.

It shares the evaluation index and reply cache of ``citewise eval run`` (``--out``, default
``.citewise-eval``): run ``citewise eval run --dataset sourcegraph --limit 1`` first to
ingest the handbook.

Run: ``.venv/bin/python bench/reader_ceiling.py [--set sourcegraph] [--config FILE]
[--limit N] [--multi-part]``. Results: bench/out/reader-ceiling/<set>-<model><tag>.json and a
summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import composition
from core.models import Principal
from core.settings import Settings
from evals.answer_eval import cached_generator, eval_settings
from evals.answer_run import reference_outcome
from evals.qa_datasets import SAMPLE_QUESTIONS, SOURCEGRAPH_QUESTIONS, load_dataset
from evals.question_sets import QuestionItem, load_question_set
from evals.reference_checks import Outcome, outcome
from generation.abstention import is_decline
from generation.open_parts import asked_parts
from generation.sentences import sentences
from retrieval.query import ScoredChunk, SearchFilters, SearchMode
from retrieval.search import Searcher

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "reader-ceiling"
QUESTION_FILES = {"sample": SAMPLE_QUESTIONS, "sourcegraph": SOURCEGRAPH_QUESTIONS}
READER = Principal(user_id="bench", groups=("public", "hr"))
_MARKUP = re.compile(r"\*\*|__|`|\[([^\]]*)\]\([^)]*\)")


class GoldSearcher(Searcher):
    """Answers the answer path's searches with the chosen chunks of the question asked."""

    def __init__(self, inner: Searcher) -> None:
        # Deliberately not Searcher.__init__: every search is answered from ``gold``; only the
        # index (for neighbouring chunks) and the model warm-up come from ``inner``.
        self._inner = inner
        self.gold: dict[str, list[ScoredChunk]] = {}

    @property
    def index(self) -> Any:
        """The real index (context assembly reads neighbouring chunks from it)."""
        return self._inner.index

    def warm_up(self) -> None:
        """Load the query embedding model."""
        self._inner.warm_up()

    def search(
        self,
        text: str,
        principal: Principal,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
        exact: bool = False,
    ) -> list[ScoredChunk]:
        """The gold chunks of ``text`` (the first ``k``)."""
        return self.gold[text][: k or None]


def plain(text: str) -> str:
    """Markdown emphasis and link targets removed: what a parsed chunk holds."""
    return _MARKUP.sub(lambda m: m.group(1) or "", text)


def squeeze(text: str) -> str:
    """Lower-case words only, for a containment test that ignores punctuation and markup."""
    return " ".join(re.findall(r"[a-z0-9$%]+", text.lower()))


def gold_chunks(
    searcher: Searcher, corpus: Path, item: QuestionItem
) -> tuple[list[ScoredChunk], int]:
    """The chunks holding each evidence quote of ``item``, and how many quotes were found
    verbatim in a chunk (the others get the quoted file's closest chunk)."""
    chosen: dict[str, ScoredChunk] = {}
    verbatim = 0
    for evidence in item.evidence:
        quote = plain(evidence.quote)
        prefix = (corpus / evidence.source).resolve().as_uri()
        hits = searcher.search(quote, READER, k=10, filters=SearchFilters(path_prefix=prefix))
        holding = [h for h in hits if squeeze(quote) in squeeze(h.chunk.text)]
        verbatim += bool(holding)
        best = (holding or hits)[:1]
        for hit in best:
            chosen.setdefault(hit.chunk.chunk_id, hit)
    return list(chosen.values()), verbatim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(QUESTION_FILES), default="sourcegraph")
    parser.add_argument("--config", type=Path, default=None, help="settings YAML")
    parser.add_argument("--limit", type=int, default=None, help="only the first N answerable")
    parser.add_argument(
        "--multi-part",
        action="store_true",
        help="only the questions that ask several parts (what answer.open_parts changes)",
    )
    parser.add_argument("--out", type=Path, default=REPO / ".citewise-eval")
    parser.add_argument("--tag", default="", help="suffix of the results file (one per config)")
    args = parser.parse_args()

    settings = Settings.load(args.config)
    data = load_dataset(args.set)
    items = [i for i in load_question_set(QUESTION_FILES[args.set]) if i.answerable]
    if args.multi_part:
        items = [i for i in items if asked_parts(i.question)]
    items = items[: args.limit] if args.limit else items
    examples = {e.id: e for e in data.examples}
    settings = eval_settings(settings, args.out, data, composition.pipeline_id(settings))
    embedder = composition.build_embedder(settings)
    generator = cached_generator(composition.build_generator(settings), settings, args.out)
    rows: list[dict[str, Any]] = []
    with composition.open_store(settings, embedder=embedder) as store:
        searcher = composition.build_searcher(settings, store.index, embedder=embedder)
        gold = GoldSearcher(searcher)
        service = composition.build_answer_service(
            settings, store.index, generator=generator, embedder=embedder, searcher=gold
        )
        for number, item in enumerate(items, 1):
            chunks, verbatim = gold_chunks(searcher, data.corpus, item)
            gold.gold[item.question] = chunks
            started = time.perf_counter()
            answer = service.answer(item.question, READER)
            shown = reference_outcome(examples[item.id], answer)
            model_text = answer.model_text or answer.text
            own = outcome(
                answerable=True,
                abstained=any(is_decline(s) for s in sentences(model_text)),
                text=model_text,
                keys=item.must_contain,
            )
            rows.append(
                {
                    "id": item.id,
                    "kind": item.kind.value,
                    "evidence": len(item.evidence),
                    "verbatim": verbatim,
                    "sources": len(answer.sources),
                    "prompt_tokens": answer.prompt_tokens,
                    "shown": shown.value if shown else None,
                    "model": own.value,
                    "abstain_reason": answer.abstain_reason,
                    "text": answer.text,
                    "unanswered_parts": answer.unanswered_parts,
                    "model_text": model_text,
                    "verdicts": [
                        {
                            "sentence": v.sentence,
                            "supported": v.supported,
                            "reason": v.reason,
                            "relevance": v.relevance,
                        }
                        for v in answer.verdicts
                    ],
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(
                f"{number}/{len(items)} {item.id}: shown {rows[-1]['shown']}, model {own.value}",
                flush=True,
            )
    report(rows, f"{args.set}-{settings.llm.model}{args.tag}")


def report(rows: list[dict[str, Any]], name: str) -> None:
    """Outcome shares for what is shown and for the model's own text, overall and by kind."""
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{name}.json"
    target.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")
    for column in ("shown", "model"):
        counts = Counter(r[column] for r in rows)
        shares = {o.value: counts[o.value] / len(rows) for o in Outcome if o.value in counts}
        print(column, {k: round(v, 3) for k, v in shares.items()})
        by_kind: dict[str, Counter[str]] = {}
        for r in rows:
            by_kind.setdefault(r["kind"], Counter())[r[column]] += 1
        for kind, c in sorted(by_kind.items()):
            total = sum(c.values())
            print(f"  {kind}: correct {c[Outcome.CORRECT.value]}/{total}")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
