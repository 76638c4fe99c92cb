"""What a search asks for and what it returns: our own models, shared by every index adapter.

The access scope is a separate, required argument of every search method (never a field with a
default), so no caller can forget it; ``AccessScope.for_principal`` is the one way to make it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from core.models import PUBLIC_GROUP, Acl, Chunk, FrozenModel, Principal
from retrieval.sparse import SparseVector


class SearchMode(StrEnum):
    """Which signals rank the results."""

    HYBRID = "hybrid"
    DENSE = "dense"
    SPARSE = "sparse"


class FusionMethod(StrEnum):
    """How the dense and the sparse rankings are combined in hybrid mode."""

    RRF = "rrf"
    DBSF = "dbsf"


class AccessScope(FrozenModel):
    """The chunks a principal may read: those whose ACL names the user or one of the groups
    (``public`` always included), restricted to the principal's tenant when it has one."""

    users: tuple[str, ...]
    groups: tuple[str, ...]
    tenant: str | None = None

    @classmethod
    def for_principal(cls, principal: Principal) -> AccessScope:
        """The scope of one caller; every principal is a member of ``public``."""
        groups = tuple(dict.fromkeys((*principal.groups, PUBLIC_GROUP)))
        return cls(users=(principal.user_id,), groups=groups, tenant=principal.tenant)

    def admits(self, acl: Acl, tenant: str | None) -> bool:
        """True when a document with this ACL and tenant is readable in this scope: the same
        rule the index filter applies to chunks (see ``filters.search_conditions``)."""
        if self.tenant is not None and tenant != self.tenant:
            return False
        return bool(set(acl.users) & set(self.users) or set(acl.groups) & set(self.groups))


class SearchFilters(FrozenModel):
    """Optional narrowing of a search. Every filter is applied inside the index query."""

    tenant: str | None = None
    file_types: tuple[str, ...] = ()
    path_prefix: str | None = Field(
        default=None, description="a source URI prefix that ends at a folder or file boundary"
    )
    modified_after: datetime | None = None
    modified_before: datetime | None = None

    @field_validator("modified_after", "modified_before")
    @classmethod
    def _as_utc(cls, moment: datetime | None) -> datetime | None:
        """A date without a zone is read as UTC, so naive and aware bounds compare."""
        if moment is None:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    @model_validator(mode="after")
    def _check_range(self) -> SearchFilters:
        if (
            self.modified_after is not None
            and self.modified_before is not None
            and self.modified_after > self.modified_before
        ):
            raise ValueError("modified_after is later than modified_before")
        return self


class VectorQuery(FrozenModel):
    """The query vectors and ranking options an index adapter executes.

    ``prefetch_limit`` is how many candidates each branch of a hybrid query contributes to the
    fusion; ``weights`` are (dense, sparse) weights for RRF.
    """

    mode: SearchMode = SearchMode.HYBRID
    dense: tuple[float, ...] | None = None
    sparse: SparseVector | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    fusion: FusionMethod = FusionMethod.RRF
    rrf_k: int = Field(default=60, ge=1)
    weights: tuple[float, float] | None = None
    prefetch_limit: int = Field(default=100, ge=1)
    exact: bool = False
    hnsw_ef: int | None = None

    @model_validator(mode="after")
    def _check_vectors(self) -> VectorQuery:
        if self.mode in (SearchMode.HYBRID, SearchMode.DENSE) and self.dense is None:
            raise ValueError(f"{self.mode} search needs a dense vector")
        if self.mode in (SearchMode.HYBRID, SearchMode.SPARSE) and self.sparse is None:
            raise ValueError(f"{self.mode} search needs a sparse vector")
        return self


class ScoredChunk(FrozenModel):
    """One search result: the chunk and its score under the query's ranking."""

    chunk: Chunk
    score: float
