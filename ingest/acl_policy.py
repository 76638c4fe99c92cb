"""ACL policy files: map path globs to the users and groups allowed to read documents.

Format (YAML)::

    default: public            # or a group name, or a list of groups; required
    rules:                     # first match wins; shell globs on the path relative to the
                               # ingested root, where * also matches "/" (hr/* = all of hr/)
      - glob: "hr/**"
        groups: [hr]
        users: [alice]         # optional

``default`` must be given: a file no rule matches gets exactly that, and ``public`` is only
ever granted by name.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError
from core.models import Acl


class AclRule(BaseModel):
    """Grant ``users`` and ``groups`` to files whose relative path matches ``glob``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    glob: str
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def matches(self, relative_path: PurePosixPath) -> bool:
        """Shell-style match on the POSIX relative path; ``*`` also crosses ``/``."""
        return fnmatchcase(str(relative_path), self.glob)


class AclPolicy(BaseModel):
    """An ordered list of rules plus an explicit default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: tuple[str, ...] = Field(min_length=1)
    rules: tuple[AclRule, ...] = ()

    @field_validator("default", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @classmethod
    def from_file(cls, path: Path) -> AclPolicy:
        """Load and validate a policy file; ConfigError names the problem."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read ACL policy {path}: {e}") from e
        try:
            return cls.model_validate(data or {})
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            raise ConfigError(f"invalid ACL policy {path}: {problems}") from e

    @classmethod
    def default_only(cls, groups: tuple[str, ...]) -> AclPolicy:
        """A policy with no rules: every document gets ``groups``."""
        return cls(default=groups)

    def acl_for(self, relative_path: PurePosixPath) -> Acl:
        """The ACL of the first matching rule, else the default groups."""
        for rule in self.rules:
            if rule.matches(relative_path):
                return Acl(users=rule.users, groups=rule.groups)
        return Acl(groups=self.default)
