from pathlib import Path, PurePosixPath

import pytest

from core.errors import ConfigError
from core.models import Acl
from ingest.acl_policy import AclPolicy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text(text)
    return path


def test_first_matching_rule_wins_and_default_applies_elsewhere(tmp_path: Path) -> None:
    policy = AclPolicy.from_file(
        write(
            tmp_path,
            "default: staff\nrules:\n"
            "  - glob: 'hr/payroll/*'\n    users: [carol]\n"
            "  - glob: 'hr/*'\n    groups: [hr]\n",
        )
    )
    assert policy.acl_for(PurePosixPath("hr/payroll/2025.xlsx")) == Acl(users=("carol",))
    assert policy.acl_for(PurePosixPath("hr/a/b.md")) == Acl(groups=("hr",))
    assert policy.acl_for(PurePosixPath("policies/leave.md")) == Acl(groups=("staff",))


def test_public_is_only_granted_by_name(tmp_path: Path) -> None:
    policy = AclPolicy.from_file(write(tmp_path, "default: [public, staff]\n"))
    assert policy.acl_for(PurePosixPath("x.md")).is_public
    assert not Acl(groups=("staff",)).is_public
    assert not Acl().is_public


@pytest.mark.parametrize(
    "text",
    ["rules: []\n", "default: []\n", "default: x\nrules:\n  - groups: [a]\n", "default: [\n"],
)
def test_invalid_policies_name_the_problem(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="ACL policy"):
        AclPolicy.from_file(write(tmp_path, text))
