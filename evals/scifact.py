"""SciFact (BEIR) as evaluation data: the abstracts as a corpus, the claims as questions.

The files live in ``<shared data>/scifact`` (``$CITEWISE_SHARED_DATA``, default
``../shared/data`` beside the repository; see its ``SOURCE.txt``):

- ``scifact.zip``: ``corpus_train.csv`` (``doc_id,title,abstract,structured``; the abstract
  is a printed numpy array of sentences) and the claims files ``claims_{train,validation,
  test}.csv`` (``id,claim,...,cited_doc_ids``);
- ``queries.jsonl``: every claim (``_id``, ``text``, evidence ``metadata``);
- ``qrels-test.tsv``: TREC qrels (``qid 0 docid rel``) of the 300 test claims.

Each test claim with qrels becomes an ``EvalExample`` whose ``gold_documents`` are its
relevant SciFact document ids. The ``train`` split (809 claims) is BEIR's: every claim of
``claims_train.csv`` with cited documents judges those relevant.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import random
import tokenize
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from evals.dataset import CorpusDocument, DatasetError, EvalExample

SHARED_DATA_ENV = "CITEWISE_SHARED_DATA"
REPO = Path(__file__).resolve().parent.parent
NEEDED = ("scifact.zip", "queries.jsonl", "qrels-test.tsv")
SPLITS = ("test", "train")

Qrels = dict[str, dict[str, int]]


def shared_data_root() -> Path:
    """``$CITEWISE_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    value = os.environ.get(SHARED_DATA_ENV)
    return Path(value) if value else REPO.parent / "shared" / "data"


def scifact_dir(root: Path | None = None) -> Path:
    """The SciFact folder under ``root`` (default: the shared data root), checked complete."""
    return check_scifact_dir((root if root is not None else shared_data_root()) / "scifact")


def check_scifact_dir(folder: Path) -> Path:
    """``folder`` if it holds the SciFact files; else ``DatasetError`` saying what is missing
    and how to point elsewhere."""
    if not folder.is_dir():
        raise DatasetError(
            f"SciFact data not found at {folder} (set {SHARED_DATA_ENV} to the folder that "
            "holds scifact/)"
        )
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing:
        raise DatasetError(f"SciFact data at {folder} lacks {', '.join(missing)}")
    return folder


@dataclass(frozen=True)
class SciFact:
    """The corpus and the examples of one split, plus the raw qrels of every split read."""

    corpus: dict[str, CorpusDocument]
    examples: tuple[EvalExample, ...]
    qrels: dict[str, Qrels] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    source: str = ""


# -- the files ---------------------------------------------------------------------------------


def abstract_text(raw: str) -> str:
    """The abstract as one string: the CSV stores it as a printed numpy array of sentences
    (``['First.'\\n 'Second.']``, no commas), so each string literal is read and they are
    joined with spaces. Anything else is returned as it is."""
    stripped = raw.strip()
    if not stripped.startswith("["):
        return stripped
    sentences: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(stripped).readline):
            if token.type == tokenize.STRING:
                sentences.append(str(ast.literal_eval(token.string)))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return stripped
    return " ".join(s.strip() for s in sentences if s.strip())


def read_corpus(zip_path: Path) -> dict[str, tuple[str, str]]:
    """``doc_id -> (title, abstract)`` from the corpus CSV inside ``scifact.zip``."""
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if Path(n).name.startswith("corpus")]
        if len(names) != 1 or not names[0].endswith(".csv"):
            raise DatasetError(f"{zip_path}: expected one corpus*.csv inside, found {names}")
        raw = archive.read(names[0]).decode("utf-8")
    # Abstracts are long single fields; the csv module's default limit (128 KiB) is too low.
    csv.field_size_limit(1 << 26)
    corpus: dict[str, tuple[str, str]] = {}
    for row in csv.DictReader(io.StringIO(raw, newline="")):
        corpus[row["doc_id"].strip()] = (row["title"].strip(), abstract_text(row["abstract"]))
    return corpus


def read_qrels(path: Path) -> Qrels:
    """TREC qrels (``qid 0 docid rel``; the file mixes tabs and spaces, so split on both)."""
    qrels: Qrels = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise DatasetError(f"{path}:{number}: expected 'qid 0 docid rel', got {line!r}")
        qid, _, doc_id, rel = fields
        qrels.setdefault(qid, {})[doc_id] = int(rel)
    return qrels


def read_claim_qrels(zip_path: Path, member: str) -> Qrels:
    """BEIR's qrels for a SciFact claims file: every claim judges its ``cited_doc_ids``
    relevant (this reproduces ``qrels-test.tsv`` from ``claims_validation.csv`` exactly).
    Empty when the archive lacks ``member``."""
    with zipfile.ZipFile(zip_path) as archive:
        if member not in archive.namelist():
            return {}
        raw = archive.read(member).decode("utf-8")
    qrels: Qrels = {}
    for row in csv.DictReader(io.StringIO(raw, newline="")):
        cited = row["cited_doc_ids"].strip().strip("[]").replace(",", " ").split()
        for doc_id in cited:
            qrels.setdefault(row["id"].strip(), {})[doc_id] = 1
    return qrels


def read_queries(path: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """``qid -> claim text`` and ``qid -> metadata`` (the evidence labels, comma-joined)."""
    texts: dict[str, str] = {}
    metadata: dict[str, dict[str, str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            qid = str(record["_id"])
            texts[qid] = str(record["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DatasetError(f"{path}:{number}: not a BEIR query record ({e})") from e
        evidence = record.get("metadata") or {}
        labels = sorted(
            {str(item.get("label")) for items in evidence.values() for item in items or ()}
            - {"None"}
        )
        metadata[qid] = {"evidence_label": ",".join(labels)} if labels else {}
    return texts, metadata


# -- the dataset -------------------------------------------------------------------------------


def load_scifact(folder: Path | None = None, *, split: str = "test") -> SciFact:
    """SciFact from ``folder`` (default ``<shared data root>/scifact``): the whole corpus
    and ``split``'s examples (claims with at least one relevant document, in id order). Also
    reads the other split's qrels when present, for tuning. Raises ``DatasetError`` when files
    are missing or the qrels name unknown claims or documents."""
    if split not in SPLITS:
        raise DatasetError(f"unknown SciFact split {split!r} (choose from {', '.join(SPLITS)})")
    folder = scifact_dir() if folder is None else check_scifact_dir(folder)
    source_file = folder / "SOURCE.txt"
    source = source_file.read_text(encoding="utf-8").strip() if source_file.is_file() else ""
    raw_corpus = read_corpus(folder / "scifact.zip")
    queries, query_metadata = read_queries(folder / "queries.jsonl")
    qrels = {"test": read_qrels(folder / "qrels-test.tsv")}
    train = read_claim_qrels(folder / "scifact.zip", "claims_train.csv")
    if train:
        qrels["train"] = train
    if split not in qrels:
        raise DatasetError(f"SciFact at {folder} has no {split} qrels")
    for name, judged in qrels.items():
        unknown_q = sorted(set(judged) - set(queries))
        unknown_d = sorted({d for docs in judged.values() for d in docs} - set(raw_corpus))
        if unknown_q or unknown_d:
            raise DatasetError(
                f"SciFact {name} qrels refer to {len(unknown_q)} unknown claims and "
                f"{len(unknown_d)} unknown documents (e.g. {(unknown_q + unknown_d)[:3]})"
            )
    if set(qrels.get("train", {})) & set(qrels["test"]):
        raise DatasetError("SciFact train and test claims overlap")
    corpus = {
        doc_id: CorpusDocument(doc_id, title, text) for doc_id, (title, text) in raw_corpus.items()
    }
    examples = tuple(
        EvalExample(
            id=qid,
            question=queries[qid],
            gold_documents=tuple(sorted((d for d, rel in docs.items() if rel > 0), key=int)),
            metadata={"dataset": "scifact", "split": split, **query_metadata.get(qid, {})},
        )
        for qid, docs in sorted(qrels[split].items(), key=lambda item: int(item[0]))
        if any(rel > 0 for rel in docs.values())
    )
    return SciFact(corpus=corpus, examples=examples, qrels=qrels, queries=queries, source=source)


def slice_scifact(
    data: SciFact, *, queries: int | None = None, documents: int | None = None, seed: int = 13
) -> SciFact:
    """A smaller problem for quick runs: the first ``queries`` examples, and a corpus of all
    their gold documents plus seeded random others up to ``documents`` in total (so every
    kept example stays answerable from the slice)."""
    examples: Sequence[EvalExample] = data.examples
    if queries is not None:
        examples = examples[:queries]
    corpus = data.corpus
    if documents is not None and documents < len(corpus):
        keep = {d for example in examples for d in example.gold_documents}
        others = sorted(set(corpus) - keep, key=int)
        rng = random.Random(seed)
        keep |= set(rng.sample(others, max(0, min(len(others), documents - len(keep)))))
        corpus = {d: corpus[d] for d in sorted(keep, key=int)}
    return replace(data, corpus=corpus, examples=tuple(examples))
