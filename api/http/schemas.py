"""The HTTP API's request and response bodies (the served OpenAPI schema is built from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generation.answer_types import Role
from retrieval.query import SearchFilters, SearchMode

MAX_FILE_TYPES = 32
MAX_PATH_PREFIX = 1024
MAX_QUESTION = 2000
MAX_TURN = 20000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(_Body):
    """Optional narrowing of a search; applied inside the index query, like access control."""

    file_types: list[Annotated[str, Field(max_length=16)]] = Field(
        default_factory=list, max_length=MAX_FILE_TYPES, examples=[["pdf", "docx"]]
    )
    path_prefix: str | None = Field(
        default=None,
        max_length=MAX_PATH_PREFIX,
        description="Only documents whose source URI starts with this folder.",
    )
    modified_after: datetime | None = None
    modified_before: datetime | None = None

    @model_validator(mode="after")
    def _valid_for_retrieval(self) -> Filters:
        """Retrieval's own checks (a date range that ends before it starts), run while the
        request is validated so that they answer 422 like any other invalid field."""
        self.to_search_filters()
        return self

    def to_search_filters(self) -> SearchFilters:
        """The retrieval layer's filter object."""
        return SearchFilters(
            file_types=tuple(self.file_types),
            path_prefix=self.path_prefix,
            modified_after=self.modified_after,
            modified_before=self.modified_before,
        )


class SearchRequest(_Body):
    """``POST /v1/search``."""

    query: str = Field(min_length=1, max_length=MAX_QUESTION)
    k: int | None = Field(default=None, ge=1, le=100)
    mode: SearchMode | None = None
    filters: Filters = Field(default_factory=Filters)


class SearchHit(BaseModel):
    """One ranked passage."""

    rank: int
    score: float
    doc_id: str
    chunk_id: str
    title: str
    section_path: list[str]
    pages: list[int]
    source_uri: str
    snippet: str
    highlights: list[tuple[int, int]] = Field(
        description="(start, end) offsets of the query's words in the snippet."
    )


class SearchResponse(BaseModel):
    """``POST /v1/search`` result."""

    results: list[SearchHit]


class Turn(_Body):
    """An earlier message of the conversation."""

    role: Literal[Role.USER, Role.ASSISTANT]
    content: str = Field(max_length=MAX_TURN)


class AskRequest(_Body):
    """``POST /v1/ask``. Send ``Accept: text/event-stream`` to stream the answer."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    history: list[Turn] = Field(default_factory=list, max_length=50)
    filters: Filters = Field(default_factory=Filters)
    draft: bool = Field(
        default=False,
        description="Streaming only: send the model's unchecked draft as `delta` events while it "
        "is written, for a client that shows it as a draft and replaces it with the checked "
        "`answer` event (the web app does). Off by default: the draft may state what the check "
        "then withholds, so a client that cannot take text back must not ask for it.",
    )
    debug: bool = Field(
        default=False,
        description="Admins only: include the model's raw text (`model_text`), which may hold "
        "statements the check withheld, and stream the draft. Ignored for other callers.",
    )
