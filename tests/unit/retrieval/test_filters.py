from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from core.models import Principal
from retrieval.filters import AnyOf, DateRange, Either, path_prefixes, search_conditions
from retrieval.query import AccessScope, SearchFilters, SearchMode, VectorQuery
from retrieval.sparse import SparseVector


def test_every_principal_is_scoped_to_its_user_its_groups_and_public() -> None:
    scope = AccessScope.for_principal(Principal(user_id="ann", groups=("hr", "public")))
    assert scope.users == ("ann",)
    assert scope.groups == ("hr", "public")
    assert AccessScope.for_principal(Principal(user_id="bob")).groups == ("public",)


def test_the_access_condition_comes_first_and_is_always_there() -> None:
    scope = AccessScope(users=("ann",), groups=("public",))
    conditions = search_conditions(scope, SearchFilters())
    assert conditions == (Either((AnyOf("acl_users", ("ann",)), AnyOf("acl_groups", ("public",)))),)


def test_filters_and_tenants_become_conditions() -> None:
    scope = AccessScope(users=("ann",), groups=("public",), tenant="acme")
    filters = SearchFilters(
        tenant="acme",
        file_types=("pdf", "docx"),
        path_prefix="file:///docs/hr/",
        modified_after=datetime(2025, 1, 1),  # naive: read as UTC
        modified_before=datetime(2025, 6, 1, tzinfo=timezone(timedelta(hours=2))),
    )
    conditions = search_conditions(scope, filters)
    assert AnyOf("tenant", ("acme",)) in conditions
    assert AnyOf("file_type", ("pdf", "docx")) in conditions
    assert AnyOf("path_prefixes", ("file:///docs/hr", "file:///docs/hr/")) in conditions
    assert (
        DateRange(
            "modified_at", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 5, 31, 22, tzinfo=UTC)
        )
        in conditions
    )


def test_path_prefixes_stop_at_folder_boundaries() -> None:
    prefixes = path_prefixes("file:///docs/hr/pay.md")
    assert prefixes == ["file:///", "file:///docs/", "file:///docs/hr/", "file:///docs/hr/pay.md"]
    assert "file:///docs/hr" not in path_prefixes("file:///docs/hr-archive/pay.md")


def test_a_reversed_date_range_is_rejected() -> None:
    with pytest.raises(ValidationError, match="later than"):
        SearchFilters(modified_after=datetime(2025, 2, 1), modified_before=datetime(2025, 1, 1))


def test_a_query_must_carry_the_vectors_its_mode_needs() -> None:
    with pytest.raises(ValidationError, match="dense vector"):
        VectorQuery(mode=SearchMode.HYBRID, sparse=SparseVector(indices=(1,), values=(1.0,)))
    with pytest.raises(ValidationError, match="sparse vector"):
        VectorQuery(mode=SearchMode.SPARSE, dense=(0.1, 0.2))
    assert VectorQuery(mode=SearchMode.DENSE, dense=(0.1,)).limit == 10
