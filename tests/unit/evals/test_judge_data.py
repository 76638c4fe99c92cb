"""The labelled-pair loaders (SummEdits, HaluEval QA) and their grouped, deterministic splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.judge_data import (
    HALUEVAL,
    SUMMEDITS,
    LabelledDataError,
    LabelledPair,
    default_shared_data,
    halueval_domain,
    load_halueval_qa,
    load_summedits,
    split_pairs,
    subsample,
)


def summedits_row(doc: str, n: int, summary: str, label: int, original: str) -> dict[str, object]:
    return {
        "id": f"{doc}_{n}" if n else f"{doc}_og",
        "doc": f"The document {doc}. It says things.",
        "summary": summary,
        "label": label,
        "original_summary": original,
        "edit_types": "[]",
        "split": "evaluation",
    }


def write_summedits(root: Path, domain: str, docs: int, edits: int = 3) -> None:
    rows = []
    for d in range(docs):
        original = f"Document {d} says things."
        rows.append(summedits_row(f"doc{d}", 0, original, 1, original))
        for n in range(1, edits + 1):
            rows.append(
                summedits_row(f"doc{d}", n, f"Document {d} says {n} things.", n % 2, original)
            )
    folder = root / "summedits"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"summedits_{domain}.json").write_text(json.dumps(rows))


def write_halueval(path: Path, rows: int) -> Path:
    lines = [
        json.dumps(
            {
                "knowledge": f"Fact {n}: the capital of land {n} is city {n}.",
                "question": f"What is the capital of land {n}?",
                "right_answer": f"City {n}",
                "hallucinated_answer": f"The capital of land {n} is city {n + 1}.",
            }
        )
        for n in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_summedits_rows_become_pairs_grouped_by_document(tmp_path: Path) -> None:
    write_summedits(tmp_path, "news", docs=2)
    write_summedits(tmp_path, "podcast", docs=1)
    pairs = load_summedits(tmp_path)
    assert len(pairs) == 12
    assert {p.domain for p in pairs} == {"news", "podcast"}
    og = next(p for p in pairs if p.pair_id == "doc0_og" and p.domain == "news")
    assert og.label is True and og.group == "news/doc0" and og.dataset == SUMMEDITS
    assert og.reference == og.claim
    # "doc0_1" and "doc0_og" belong to one document: the id before the last "_".
    assert {p.group for p in pairs if p.pair_id.startswith("doc0_")} >= {"news/doc0"}
    assert load_summedits(tmp_path, ["podcast"]) == [p for p in pairs if p.domain == "podcast"]


def test_summedits_label_polarity_is_checked(tmp_path: Path) -> None:
    folder = tmp_path / "summedits"
    folder.mkdir()
    same = "The summary."
    rows = [summedits_row("d", 0, same, 0, same)]  # the unedited seed labelled inconsistent
    (folder / "summedits_news.json").write_text(json.dumps(rows))
    with pytest.raises(LabelledDataError, match="labelled 0, not 1"):
        load_summedits(tmp_path)


def test_missing_summedits_data_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(LabelledDataError, match="CITEWISE_SHARED_DATA"):
        load_summedits(tmp_path)
    write_summedits(tmp_path, "news", docs=1)
    with pytest.raises(LabelledDataError, match="scitldr"):
        load_summedits(tmp_path, ["scitldr"])


def test_halueval_rows_give_a_supported_and_a_hallucinated_pair(tmp_path: Path) -> None:
    pairs = load_halueval_qa(write_halueval(tmp_path / "qa.jsonl", 3))
    assert len(pairs) == 6
    right, wrong = pairs[0], pairs[1]
    assert (right.label, wrong.label) == (True, False)
    assert right.group == wrong.group and right.unit == wrong.unit == "halueval-qa-0"
    assert right.claim == "What is the capital of land 0? City 0"
    assert right.dataset == HALUEVAL and right.domain == "qa"


def test_halueval_rows_without_the_answer_length_cue_are_a_domain_of_their_own() -> None:
    assert halueval_domain("Delhi", "The company is based in Mumbai.") == "qa"
    assert halueval_domain("Salaam Bombay", "The Namesake") == "qa-similar-length"
    assert halueval_domain("Millard Fillmore", "James K. Polk.") == "qa-similar-length"


def test_shared_data_location_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEWISE_SHARED_DATA", str(tmp_path))
    assert default_shared_data() == tmp_path
    monkeypatch.delenv("CITEWISE_SHARED_DATA")
    assert default_shared_data().parts[-2:] == ("shared", "data")


def _pairs(domains: int, groups: int, per_group: int) -> list[LabelledPair]:
    return [
        LabelledPair(
            pair_id=f"d{d}-g{g}-{n}",
            dataset=SUMMEDITS,
            domain=f"d{d}",
            group=f"d{d}/g{g}",
            evidence="e",
            claim="c",
            label=n % 2 == 0,
        )
        for d in range(domains)
        for g in range(groups)
        for n in range(per_group)
    ]


def test_splits_never_share_a_group_and_are_repeatable() -> None:
    pairs = _pairs(domains=3, groups=20, per_group=4)
    splits = split_pairs(pairs)
    groups = {name: {p.group for p in found} for name, found in splits.items()}
    assert not groups["train"] & groups["test"]
    assert not groups["train"] & groups["validation"]
    assert not groups["validation"] & groups["test"]
    assert sum(len(found) for found in splits.values()) == len(pairs)
    # Per domain: ceil(20% of 20) = 4 test groups, ceil(15% of 20) = 3 validation groups.
    assert Counter(p.domain for p in splits["test"]) == {f"d{d}": 16 for d in range(3)}
    assert Counter(p.domain for p in splits["validation"]) == {f"d{d}": 12 for d in range(3)}
    assert split_pairs(list(reversed(pairs)))["test"] != []
    assert {p.pair_id for p in split_pairs(list(reversed(pairs)))["test"]} == {
        p.pair_id for p in splits["test"]
    }
    other_seed = split_pairs(pairs, seed="another")
    assert {p.group for p in other_seed["test"]} != groups["test"]


def test_split_shares_must_leave_room_for_training() -> None:
    with pytest.raises(ValueError, match="shares"):
        split_pairs([], held_out=0.6, validation=0.5)


def test_subsample_spreads_over_domains_and_keeps_units_whole(tmp_path: Path) -> None:
    pairs = _pairs(domains=4, groups=10, per_group=5)
    chosen = subsample(pairs, 40)
    assert len(chosen) == 40
    assert Counter(p.domain for p in chosen) == {f"d{d}": 10 for d in range(4)}
    assert subsample(pairs, 40) == chosen
    assert subsample(pairs, None) == pairs
    qa = load_halueval_qa(write_halueval(tmp_path / "qa.jsonl", 20))
    few = subsample(qa, 7)
    assert len(few) == 6  # three whole rows: a row's two answers are never split
    assert Counter(p.label for p in few) == {True: 3, False: 3}
