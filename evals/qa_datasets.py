"""Question-answering datasets for end-to-end runs: a corpus to ingest plus its questions.

- ``sample``: the project's own sample corpus (samples/corpus) and its question set
  (samples/questions.yaml): answerable, multi-hop, unanswerable and HR-restricted questions, each
  with its gold sources and the keys a correct answer states; restricted ones are asked by an
  ``hr`` member.
- ``sourcegraph``: the Sourcegraph company handbook (883 Markdown pages, shared data) and a
  reference-checked set of employee questions (evals/data/sourcegraph-handbook.yaml): facts,
  figures, procedures, multi-hop and unanswerable ones, each answerable one with
  ``must_contain`` keys (see ``evals.question_sets``).
- ``sec-10q``: 20 real 10-Q filings (PDF) and 195 questions with answers drafted by an LLM and
  reviewed by people (docugami KG-RAG); gold documents come from each question's file glob.
- ``sec-10q-unanswerable``: the same questions asked over the sample corpus, which holds no
  filing: every one must be declined. Honest negatives: real questions, the wrong corpus.
- any JSON Lines file in the ``EvalExample`` schema, with ``--corpus`` naming what to ingest.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from evals.dataset import DatasetError, EvalExample, load_jsonl
from evals.question_sets import load_question_set, to_examples
from evals.scifact import shared_data_root

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO / "samples" / "corpus"
SAMPLE_ACL = REPO / "samples" / "acl.yaml"
SAMPLE_QUESTIONS = REPO / "samples" / "questions.yaml"
SEC_SUBDIR = Path("sec-10q") / "sec-10-q" / "data" / "v1"
SOURCEGRAPH_SUBDIR = Path("handbook-sourcegraph") / "content"
SOURCEGRAPH_QUESTIONS = REPO / "evals" / "data" / "sourcegraph-handbook.yaml"


@dataclass(frozen=True)
class QaDataset:
    """Questions and the corpus they are asked over. Gold document keys are paths relative to
    ``corpus`` (what a chunk's source URI ends with)."""

    name: str
    corpus: Path
    acl_policy: Path | None
    examples: tuple[EvalExample, ...]


def load_dataset(
    name: str, *, corpus: Path | None = None, acl_policy: Path | None = None
) -> QaDataset:
    """A named dataset, or a JSONL file (then ``corpus`` is required)."""
    if name == "sample":
        return QaDataset(name, SAMPLE_CORPUS, SAMPLE_ACL, sample_questions())
    if name == "sourcegraph":
        return QaDataset(
            name,
            sourcegraph_corpus_dir(),
            None,
            to_examples(load_question_set(SOURCEGRAPH_QUESTIONS)),
        )
    if name == "sec-10q":
        folder = _sec_dir()
        return QaDataset(name, folder / "docs", None, sec_questions(folder))
    if name == "sec-10q-unanswerable":
        negatives = tuple(
            example.model_copy(
                update={
                    "id": f"unanswerable-{example.id}",
                    "reference_answer": None,
                    "gold_documents": (),
                    "answerable": False,
                }
            )
            for example in sec_questions(_sec_dir())
        )
        return QaDataset(name, SAMPLE_CORPUS, SAMPLE_ACL, negatives)
    path = Path(name)
    if not path.is_file():
        raise DatasetError(
            f"unknown dataset {name!r}: use sample, sourcegraph, sec-10q, sec-10q-unanswerable "
            "or a .jsonl file"
        )
    if corpus is None:
        raise DatasetError(f"{path}: a JSONL dataset needs --corpus (the folder to ingest)")
    return QaDataset(path.stem, corpus, acl_policy, tuple(load_jsonl(path)))


def sample_questions(path: Path = SAMPLE_QUESTIONS) -> tuple[EvalExample, ...]:
    """The sample corpus's question set; restricted questions are asked as an HR member."""
    return to_examples(load_question_set(path))


def sourcegraph_corpus_dir(*, check: bool = True) -> Path:
    """The Sourcegraph handbook's ``content`` folder in the shared data (``DatasetError`` when
    ``check`` and it is missing)."""
    folder = shared_data_root() / SOURCEGRAPH_SUBDIR
    if check and not folder.is_dir():
        raise DatasetError(
            f"Sourcegraph handbook not found at {folder} (set CITEWISE_SHARED_DATA to the shared "
            "data folder)"
        )
    return folder


def sec_questions(folder: Path) -> tuple[EvalExample, ...]:
    """The 195 SEC 10-Q questions; ``Source Docs`` globs (``*AAPL*``) name the gold filings."""
    documents = sorted(p.name for p in (folder / "docs").glob("*.pdf"))
    path = folder / "qna_data.csv"
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e}") from e
    examples = []
    for number, row in enumerate(rows, 1):
        patterns = [p.strip() for p in row["Source Docs"].split(",") if p.strip()]
        gold = tuple(d for d in documents if any(fnmatch.fnmatch(d, p) for p in patterns))
        if not gold:
            raise DatasetError(f"{path}: row {number} names no known filing ({patterns})")
        examples.append(
            EvalExample(
                id=f"sec-{number:03d}",
                question=row["Question"].strip(),
                reference_answer=row["Answer"].strip(),
                gold_documents=gold,
                metadata={
                    "question_type": row.get("Question Type", ""),
                    "chunk_type": row.get("Source Chunk Type", ""),
                },
            )
        )
    return tuple(examples)


def _sec_dir() -> Path:
    folder = shared_data_root() / SEC_SUBDIR
    if not (folder / "qna_data.csv").is_file():
        raise DatasetError(
            f"SEC 10-Q data not found at {folder} (set CITEWISE_SHARED_DATA to the shared data "
            "folder)"
        )
    return folder
