"""The SciFact loader, on a tiny folder laid out like the shared data."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from evals.dataset import DatasetError
from evals.scifact import abstract_text, load_scifact, scifact_dir, shared_data_root, slice_scifact

CORPUS = [
    ("10", "Alpha title", "['First sentence.'\n 'Second sentence.']"),
    ("20", "Beta", "Plain abstract."),
    ("30", "Gamma", "['Only one.']"),
    ("40", "Delta", "['Filler.']"),
]


def csv_text(header: list[str], rows: list[tuple[str, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def make_scifact(root: Path, qrels: str = "1\t0 10\t1\n1 0 20 1\n3\t0 30\t1\n") -> Path:
    folder = root / "scifact"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "scifact.zip", "w") as archive:
        archive.writestr(
            "corpus_train.csv",
            csv_text(
                ["doc_id", "title", "abstract", "structured"], [(*r, "False") for r in CORPUS]
            ),
        )
        archive.writestr(
            "claims_train.csv",
            csv_text(
                [
                    "id",
                    "claim",
                    "evidence_doc_id",
                    "evidence_label",
                    "evidence_sentences",
                    "cited_doc_ids",
                ],
                [
                    ("5", "Train claim.", "", "", "[]", "[40, 10]"),
                    ("6", "Uncited.", "", "", "[]", "[]"),
                ],
            ),
        )
    queries = [
        {
            "_id": "1",
            "text": "Claim one.",
            "metadata": {"10": [{"sentences": [0], "label": "SUPPORT"}]},
        },
        {"_id": "3", "text": "Claim three.", "metadata": {}},
        {"_id": "5", "text": "Train claim.", "metadata": {}},
        {"_id": "6", "text": "Uncited.", "metadata": {}},
    ]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (folder / "qrels-test.tsv").write_text(qrels)
    (folder / "SOURCE.txt").write_text("tiny SciFact\n")
    return folder


def test_loads_corpus_and_test_examples(tmp_path: Path) -> None:
    data = load_scifact(make_scifact(tmp_path))
    assert list(data.corpus) == ["10", "20", "30", "40"]
    assert data.corpus["10"].text == "First sentence. Second sentence."
    assert data.corpus["20"].title == "Beta"
    assert [(e.id, e.question, e.gold_documents) for e in data.examples] == [
        ("1", "Claim one.", ("10", "20")),
        ("3", "Claim three.", ("30",)),
    ]
    first = data.examples[0]
    assert first.metadata == {"dataset": "scifact", "split": "test", "evidence_label": "SUPPORT"}
    assert first.principal.groups == ("public",) and first.reference_answer is None
    assert data.qrels["train"] == {"5": {"40": 1, "10": 1}}
    assert data.source == "tiny SciFact"


def test_the_train_split(tmp_path: Path) -> None:
    data = load_scifact(make_scifact(tmp_path), split="train")
    assert [(e.id, e.gold_documents) for e in data.examples] == [("5", ("10", "40"))]
    with pytest.raises(DatasetError, match="unknown SciFact split"):
        load_scifact(tmp_path / "scifact", split="dev")


def test_the_shared_data_root_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_scifact(tmp_path)
    monkeypatch.setenv("CITEWISE_SHARED_DATA", str(tmp_path))
    assert shared_data_root() == tmp_path
    assert scifact_dir() == tmp_path / "scifact"
    assert len(load_scifact().examples) == 2
    monkeypatch.delenv("CITEWISE_SHARED_DATA")
    assert shared_data_root().name == "data" and shared_data_root().parent.name == "shared"


def test_missing_data_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEWISE_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match=r"SciFact data not found at .*nowhere.*CITEWISE_SHARED"):
        load_scifact()
    folder = make_scifact(tmp_path)
    (folder / "qrels-test.tsv").unlink()
    with pytest.raises(DatasetError, match=r"lacks qrels-test\.tsv"):
        load_scifact(folder)


def test_qrels_naming_unknown_documents_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="1 unknown documents"):
        load_scifact(make_scifact(tmp_path, qrels="1 0 99 1\n"))


def test_malformed_qrels_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"qrels-test.tsv:2: expected 'qid 0 docid rel'"):
        load_scifact(make_scifact(tmp_path, qrels="1 0 10 1\n1 10 1\n"))


def test_slicing_keeps_every_gold_document(tmp_path: Path) -> None:
    data = load_scifact(make_scifact(tmp_path))
    small = slice_scifact(data, queries=1, documents=3)
    assert [e.id for e in small.examples] == ["1"]
    assert {"10", "20"} <= set(small.corpus) and len(small.corpus) == 3
    assert slice_scifact(data, queries=1, documents=3) == small  # seeded: repeatable
    tiny = slice_scifact(data, documents=1)  # never drops gold documents
    assert set(tiny.corpus) == {"10", "20", "30"}


def test_abstract_text() -> None:
    assert abstract_text("['A.'\n 'B \"q\".']") == 'A. B "q".'
    assert abstract_text("No brackets.") == "No brackets."
    assert abstract_text("['unterminated") == "['unterminated"
