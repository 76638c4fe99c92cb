"""Search filters as a small back-end-neutral condition tree.

Both index adapters translate the same tree into their own filter types, so the access rules
are written once and the contract tests can hold both adapters to the same semantics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retrieval.query import AccessScope, SearchFilters

ACL_USERS = "acl_users"
ACL_GROUPS = "acl_groups"
TENANT = "tenant"
FILE_TYPE = "file_type"
PATH_PREFIXES = "path_prefixes"
MODIFIED_AT = "modified_at"


@dataclass(frozen=True)
class AnyOf:
    """The keyword field (or one of its list values) equals one of ``values``."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class DateRange:
    """The datetime field lies within the bounds (inclusive); a missing field never matches."""

    key: str
    gte: datetime | None = None
    lte: datetime | None = None


@dataclass(frozen=True)
class Either:
    """At least one of the conditions holds."""

    conditions: tuple[Condition, ...]


Condition = AnyOf | DateRange | Either


def search_conditions(scope: AccessScope, filters: SearchFilters) -> tuple[Condition, ...]:
    """The conditions that must all hold for a chunk to be returned.

    The access condition always comes first and is never optional: a chunk is readable when its
    ACL lists the user or one of the scope's groups. A chunk with an empty ACL matches nothing,
    so a document whose ACL was never set is hidden rather than public.
    """
    conditions: list[Condition] = [
        Either((AnyOf(ACL_USERS, scope.users), AnyOf(ACL_GROUPS, scope.groups)))
    ]
    if scope.tenant is not None:
        conditions.append(AnyOf(TENANT, (scope.tenant,)))
    if filters.tenant is not None:
        conditions.append(AnyOf(TENANT, (filters.tenant,)))
    if filters.file_types:
        conditions.append(AnyOf(FILE_TYPE, filters.file_types))
    if filters.path_prefix:
        base = filters.path_prefix.rstrip("/")
        # A prefix names a file or a whole folder, never half a name: "docs/hr" must not
        # match "docs/hr-archive".
        conditions.append(AnyOf(PATH_PREFIXES, (base, base + "/")))
    if filters.modified_after is not None or filters.modified_before is not None:
        conditions.append(DateRange(MODIFIED_AT, filters.modified_after, filters.modified_before))
    return tuple(conditions)


def path_prefixes(source_uri: str) -> list[str]:
    """Every folder prefix of a URI (with a trailing slash) plus the URI itself.

    Stored as a keyword list on each chunk so a path-prefix filter is an exact keyword match
    that the payload index answers, instead of a substring scan.
    """
    scheme, sep, rest = source_uri.partition("://")
    if not sep:
        scheme, rest = "", source_uri
    head = f"{scheme}://" if sep else ""
    parts = rest.split("/")
    prefixes = [head + "/".join(parts[: n + 1]) + "/" for n in range(len(parts) - 1)]
    return [*prefixes, source_uri]
