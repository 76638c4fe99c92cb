"""Context assembly logic, with a word counter and an in-memory index standing in."""

from collections.abc import Sequence

from core.models import Acl, Chunk
from retrieval.context import AssemblyOptions, ContextAssembler
from retrieval.query import AccessScope, ScoredChunk

PUBLIC = AccessScope(users=("ann",), groups=("public",))


class WordCounter:
    def count(self, text: str) -> int:
        return len(text.split())

    def encode(self, text: str) -> list[int]:
        return list(range(self.count(text)))


class FakeChunkIndex:
    """Serves ``fetch`` with the same access rule as the real adapters."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = {c.chunk_id: c for c in chunks}
        self.fetched: list[str] = []

    def fetch(self, chunk_ids: Sequence[str], scope: AccessScope) -> list[Chunk]:
        self.fetched += chunk_ids
        found = [self.chunks[i] for i in chunk_ids if i in self.chunks]
        return [
            c
            for c in found
            if set(c.acl.users) & set(scope.users) or set(c.acl.groups) & set(scope.groups)
        ]


def document(doc: str, texts: Sequence[str], section: tuple[str, ...] = ("S",)) -> list[Chunk]:
    ids = [f"{doc}-{n}" for n in range(len(texts))]
    return [
        Chunk(
            chunk_id=ids[n],
            doc_id=doc,
            version=1,
            ordinal=n,
            text=text,
            title=f"Title {doc}",
            source_uri=f"file:///{doc}.md",
            section_path=section,
            pages=(n + 1,),
            prev_chunk_id=ids[n - 1] if n else None,
            next_chunk_id=ids[n + 1] if n + 1 < len(ids) else None,
            acl=Acl(groups=("public",)),
        )
        for n, text in enumerate(texts)
    ]


def hits(*chunks: Chunk) -> list[ScoredChunk]:
    return [ScoredChunk(chunk=c, score=1.0 / (n + 1)) for n, c in enumerate(chunks)]


def test_sources_are_numbered_in_rank_order_with_their_locators() -> None:
    a = document("a", ["alpha one"])
    b = document("b", ["beta one"])
    context = ContextAssembler(WordCounter()).assemble("q", hits(b[0], a[0]), PUBLIC)
    assert [(s.number, s.doc_id) for s in context.sources] == [(1, "b"), (2, "a")]
    assert context.source(1) is context.sources[0]
    assert context.source(3) is None
    assert context.sources[0].locator() == "Title b > S | p. 1 | file:///b.md"
    assert context.token_count == 4


def test_duplicates_by_id_and_by_text_are_dropped() -> None:
    a = document("a", ["same words here"])
    copy = document("b", ["Same   words here"])
    context = ContextAssembler(WordCounter()).assemble("q", hits(a[0], a[0], copy[0]), PUBLIC)
    assert [s.chunk_ids for s in context.sources] == [("a-0",)]


def test_adjacent_hits_of_one_section_merge_and_drop_the_repeated_overlap() -> None:
    overlap = "the shared overlap sentence of the chunker."
    chunks = document("a", [f"First part. {overlap}", f"{overlap} Second part.", "Third."])
    context = ContextAssembler(WordCounter()).assemble("q", hits(chunks[1], chunks[0]), PUBLIC)
    (source,) = context.sources
    assert source.chunk_ids == ("a-0", "a-1")
    assert source.text == f"First part. {overlap}\nSecond part."
    assert source.pages == (1, 2)
    assert source.score == 1.0


def test_chunks_of_different_sections_stay_apart() -> None:
    first = document("a", ["one", "two"])
    second_section = first[1].model_copy(update={"section_path": ("Other",)})
    context = ContextAssembler(WordCounter()).assemble("q", hits(first[0], second_section), PUBLIC)
    assert len(context.sources) == 2


def test_the_budget_admits_sources_in_rank_order_and_counts_what_it_left_out() -> None:
    long = document("a", ["word " * 60])
    short = document("b", ["tiny text"])
    options = AssemblyOptions(budget_tokens=50, neighbours=0)
    context = ContextAssembler(WordCounter(), options=options).assemble(
        "q", hits(long[0], short[0]), PUBLIC
    )
    assert [s.doc_id for s in context.sources] == ["b"]
    assert context.dropped == 1


def test_neighbours_are_added_within_the_budget_and_the_section() -> None:
    chunks = document("a", ["zero zero", "one one", "two two", "three three"])
    index = FakeChunkIndex(chunks)
    options = AssemblyOptions(budget_tokens=6, neighbours=2)
    context = ContextAssembler(WordCounter(), index, options).assemble("q", hits(chunks[1]), PUBLIC)
    (source,) = context.sources
    # one before and one after fit (6 words); the second ring would exceed the budget
    assert source.chunk_ids == ("a-0", "a-1", "a-2")
    assert context.token_count == 6


def test_neighbours_come_through_the_access_scope() -> None:
    chunks = document("a", ["visible hit", "hidden neighbour"])
    hidden = chunks[1].model_copy(update={"acl": Acl(groups=("hr",))})
    index = FakeChunkIndex([chunks[0], hidden])
    context = ContextAssembler(WordCounter(), index).assemble("q", hits(chunks[0]), PUBLIC)
    assert context.sources[0].chunk_ids == ("a-0",)
    assert index.fetched == ["a-1"]


def test_max_sources_caps_the_list() -> None:
    docs = [document(name, [f"text {name}"])[0] for name in "abcdef"]
    options = AssemblyOptions(max_sources=3, neighbours=0)
    context = ContextAssembler(WordCounter(), options=options).assemble("q", hits(*docs), PUBLIC)
    assert [s.number for s in context.sources] == [1, 2, 3]
    assert context.dropped == 3
