"""The chunk corpus of the search-latency benchmark: real text, split, embedded once, cached.

Sources (``--data``, default ``../shared/data``; see each folder's ``SOURCE.txt``): the 18F and
Sourcegraph handbooks (markdown), the SEC 10-Q filings (PDF text via ``pypdf``) and the SciFact
abstracts (``title + "\\n" + abstract``). Every document is split with llama-index's
``SentenceSplitter`` counting all-MiniLM-L6-v2 tokens. One pass at one chunk size and overlap
gives only ~20k chunks, so further passes re-split every document with another size/overlap
(``PASSES``): their chunk boundaries differ, so texts and vectors genuinely differ (a re-chunked
re-ingest, in effect). Exact duplicate texts are dropped. Passes run until ``--chunks`` unique
chunks exist.

Order: pass 1's chunks shuffled (seed 0), then pass 2's shuffled, and so on, truncated to
``--chunks``. A smaller index is a prefix of this order, so the 10k index is a random sample
of the first pass (no near-duplicate variants) and the 100k index holds everything.

Each chunk is embedded as our ingest embeds it (``core.models.embedding_text``: the document
title line, then the text) with the Citewise embedder (``api.composition.build_embedder``,
default backend) in blocks that are saved as they finish, so an interrupted run resumes. The
cache lives in ``bench/out/search-latency/corpus-<key>/`` (``chunks.jsonl``, ``dense.npy``),
keyed by the sources, the passes, the chunk count, the model and the backend.

Usage::

    nice -n 10 .venv/bin/python bench/search_corpus.py            # build + embed 100k chunks
    nice -n 10 .venv/bin/python bench/search_corpus.py --texts-only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("CITEWISE_SHARED_DATA", REPO.parent / "shared" / "data"))
OUT_DIR = REPO / "bench" / "out" / "search-latency"
DEFAULT_CHUNKS = 100_000
EMBED_BLOCK = 2_000
SEED = 0
PDF_ARRAY_LIMIT = 10_000_000

PASSES: tuple[tuple[int, int], ...] = (
    (200, 20),
    (160, 40),
    (240, 30),
    (180, 0),
    (220, 60),
    (150, 15),
    (250, 80),
    (170, 25),
    (210, 45),
    (190, 70),
)
"""``SentenceSplitter`` (chunk_size, chunk_overlap) in MiniLM tokens, one per pass."""

HANDBOOKS = (("handbook-18f", "pages"), ("handbook-sourcegraph", "content"))
SEC_DOCS = Path("sec-10q") / "sec-10-q" / "data" / "v1" / "docs"
SCIFACT = Path("scifact") / "scifact.zip"
REQUIRED = ("handbook-18f", "handbook-sourcegraph", "sec-10q", "scifact")


@dataclass(frozen=True)
class SourceDoc:
    """One document of the corpus: where it came from, its title and its text."""

    uri: str
    title: str
    text: str
    corpus: str


@dataclass(frozen=True)
class ChunkText:
    """One chunk: its document, the pass (1-based) and ordinal within that pass, its text."""

    uri: str
    title: str
    corpus: str
    split: int
    ordinal: int
    text: str

    def embedding_text(self) -> str:
        """What is embedded and BM25-encoded: the title line, then the text (as ingest does)."""
        return f"{self.title}\n{self.text}" if self.title else self.text


def check_data(data: Path) -> None:
    """Exit with a message when the shared data sets are not there."""
    missing = [name for name in REQUIRED if not (data / name / "SOURCE.txt").is_file()]
    if missing:
        raise SystemExit(
            f"shared data not found under {data}: missing {', '.join(missing)} "
            "(pass --data DIR or set CITEWISE_SHARED_DATA)"
        )


def _strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[end + 4 :].lstrip("\n")
    return text


def read_sources(data: Path, skipped_pages: list[str]) -> list[SourceDoc]:
    """Every source document, in a fixed order (PDF pages pypdf cannot read go to
    ``skipped_pages``)."""
    docs: list[SourceDoc] = []
    for name, sub in HANDBOOKS:
        root = data / name / sub
        for path in sorted(root.rglob("*.md")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            text = _strip_front_matter(path.read_text(encoding="utf-8", errors="replace")).strip()
            if text:
                docs.append(SourceDoc(f"{name}/{sub}/{rel}", path.stem, text, name))
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import PyPdfError

    for path in sorted((data / SEC_DOCS).glob("*.pdf")):
        pages = []
        # Some of these filings have page-tree arrays longer than pypdf's default safety limit
        # (100k elements); the files are trusted, so the limit is raised for them.
        with apply_configuration(array_maximum_element_count=PDF_ARRAY_LIMIT):
            reader = PdfReader(str(path), strict=False)
            for number, page in enumerate(reader.pages, 1):
                try:
                    pages.append(page.extract_text() or "")
                except PyPdfError:  # one unreadable page: skipped, counted
                    skipped_pages.append(f"{path.name} p{number}")
        text = "\n".join(pages).strip()
        if text:
            docs.append(SourceDoc(f"sec-10q/{path.name}", path.stem, text, "sec-10q"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from embedding_quality import read_corpus

    corpus = read_corpus(data / SCIFACT)
    for doc_id in sorted(corpus, key=int):
        title, abstract = corpus[doc_id]
        if abstract.strip():
            docs.append(SourceDoc(f"scifact/{doc_id}", title, abstract, "scifact"))
    return docs


def _split_pass(
    docs: Sequence[SourceDoc], size: int, overlap: int, encode: Any, split: int
) -> Iterator[ChunkText]:
    from llama_index.core.node_parser import SentenceSplitter

    splitters: dict[int, SentenceSplitter] = {}
    for doc in docs:
        # The title line is embedded with every chunk: leave room for it in the size.
        room = max(32, size - (len(encode(doc.title)) + 1 if doc.title else 0))
        if room not in splitters:
            splitters[room] = SentenceSplitter(
                chunk_size=room, chunk_overlap=min(overlap, room // 2), tokenizer=encode
            )
        splitter = splitters[room]
        for ordinal, raw in enumerate(splitter.split_text(doc.text)):
            text = raw.strip()
            if text:
                yield ChunkText(doc.uri, doc.title, doc.corpus, split, ordinal, text)


def build_chunks(data: Path, target: int) -> tuple[list[ChunkText], dict[str, Any]]:
    """Split the sources pass by pass until ``target`` unique chunks exist; see the module doc."""
    from retrieval.embedder import shipped_minilm_path
    from retrieval.tokens import HfTokenCounter

    started = time.perf_counter()
    skipped_pages: list[str] = []
    docs = read_sources(data, skipped_pages)
    print(f"{len(docs)} documents; {len(skipped_pages)} PDF pages unreadable", flush=True)
    tokens = HfTokenCounter(shipped_minilm_path())
    seen: set[str] = set()
    ordered: list[ChunkText] = []
    passes: list[dict[str, Any]] = []
    rng = random.Random(SEED)
    for split, (size, overlap) in enumerate(PASSES, 1):
        fresh = []
        for chunk in _split_pass(docs, size, overlap, tokens.encode, split):
            key = chunk.embedding_text()
            if key not in seen:
                seen.add(key)
                fresh.append(chunk)
        rng.shuffle(fresh)
        ordered.extend(fresh)
        passes.append({"split": split, "chunk_size": size, "overlap": overlap, "new": len(fresh)})
        print(
            f"pass {split} ({size}/{overlap}): {len(fresh)} new, {len(ordered)} total", flush=True
        )
        if len(ordered) >= target:
            break
    if len(ordered) < target:
        raise SystemExit(f"only {len(ordered)} unique chunks after {len(PASSES)} passes")
    chunks = ordered[:target]
    counts = [tokens.count(c.embedding_text()) for c in chunks[:: max(1, len(chunks) // 5000)]]
    per_corpus: dict[str, int] = {}
    for c in chunks:
        per_corpus[c.corpus] = per_corpus.get(c.corpus, 0) + 1
    stats = {
        "documents": len(docs),
        "documents_per_corpus": {
            name: sum(1 for d in docs if d.corpus == name) for name in REQUIRED
        },
        "chunks_per_corpus": per_corpus,
        "pdf_pages_skipped": skipped_pages,
        "passes": passes,
        "tokens_per_chunk_mean": round(float(np.mean(counts)), 1),
        "tokens_per_chunk_p5_p95": [int(np.percentile(counts, 5)), int(np.percentile(counts, 95))],
        "split_s": round(time.perf_counter() - started, 1),
    }
    return chunks, stats


def cache_key(target: int, backend: str) -> str:
    """Sources + passes + chunk count + model + backend."""
    from retrieval.embedder import MINILM_DISTRIBUTION

    shape = json.dumps(
        ["v1", REQUIRED, PASSES, target, MINILM_DISTRIBUTION, backend, SEED], sort_keys=True
    )
    return hashlib.sha256(shape.encode()).hexdigest()[:12]


def corpus_dir(target: int, backend: str) -> Path:
    """Where the chunks and vectors for this configuration are cached."""
    return OUT_DIR / f"corpus-{cache_key(target, backend)}"


def default_backend() -> str:
    """Citewise's embedder backend when none is configured."""
    from core.settings import EmbeddingSettings

    return str(EmbeddingSettings().backend)


def load_chunks(directory: Path) -> list[ChunkText]:
    """The cached chunk list."""
    with (directory / "chunks.jsonl").open() as handle:
        return [ChunkText(**json.loads(line)) for line in handle]


def ensure_texts(data: Path, target: int, backend: str) -> Path:
    """Build and cache ``chunks.jsonl`` unless it exists; return the cache directory."""
    directory = corpus_dir(target, backend)
    if (directory / "chunks.jsonl").is_file():
        return directory
    check_data(data)
    directory.mkdir(parents=True, exist_ok=True)
    chunks, stats = build_chunks(data, target)
    tmp = directory / "chunks.jsonl.tmp"
    with tmp.open("w") as handle:
        for chunk in chunks:
            handle.write(json.dumps(asdict(chunk)) + "\n")
    tmp.replace(directory / "chunks.jsonl")
    (directory / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return directory


def ensure_vectors(directory: Path, backend: str) -> Path:
    """Embed every cached chunk (block by block, resumable) into ``dense.npy``."""
    final = directory / "dense.npy"
    if final.is_file():
        return final
    from api import composition
    from core.settings import Settings

    chunks = load_chunks(directory)
    parts = directory / "parts"
    parts.mkdir(exist_ok=True)
    settings = Settings.load(data_dir=directory / "data", embedding={"backend": backend})
    embedder = composition.build_embedder(settings)
    embedder.warm_up()
    timing_file = directory / "embed_timing.json"
    timing = json.loads(timing_file.read_text()) if timing_file.is_file() else {"blocks": {}}
    for start in range(0, len(chunks), EMBED_BLOCK):
        part = parts / f"{start:07d}.npy"
        if part.is_file():
            continue
        texts = [c.embedding_text() for c in chunks[start : start + EMBED_BLOCK]]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        np.save(parts / f"{start:07d}.tmp.npy", vectors)
        (parts / f"{start:07d}.tmp.npy").replace(part)
        timing["blocks"][str(start)] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
        timing_file.write_text(json.dumps(timing, indent=2) + "\n")
        print(
            f"embedded {start + len(texts)}/{len(chunks)} ({len(texts) / wall:.0f} chunks/s)",
            flush=True,
        )
    blocks = [np.load(parts / f"{s:07d}.npy") for s in range(0, len(chunks), EMBED_BLOCK)]
    matrix = np.concatenate(blocks)
    assert matrix.shape[0] == len(chunks)
    np.save(directory / "dense.tmp.npy", matrix)
    (directory / "dense.tmp.npy").replace(final)
    timing["total_wall_s"] = round(sum(b["wall_s"] for b in timing["blocks"].values()), 1)
    timing["total_cpu_s"] = round(sum(b["cpu_s"] for b in timing["blocks"].values()), 1)
    timing["backend"] = backend
    timing_file.write_text(json.dumps(timing, indent=2) + "\n")
    for part in parts.glob("*.npy"):
        part.unlink()
    parts.rmdir()
    return final


def main(argv: Sequence[str] | None = None) -> None:
    """Build (and embed) the cached corpus."""
    sys.path.insert(0, str(REPO))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS)
    parser.add_argument("--backend", default=None, help="embedder backend (default: Citewise's)")
    parser.add_argument("--texts-only", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    backend = args.backend or default_backend()
    directory = ensure_texts(args.data, args.chunks, backend)
    print(f"chunks: {directory / 'chunks.jsonl'}")
    if not args.texts_only:
        print(f"vectors: {ensure_vectors(directory, backend)}")


if __name__ == "__main__":
    main()
