from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings


def test_defaults_place_everything_in_the_data_dir() -> None:
    settings = Settings.load(data_dir=Path("/tmp/x"))
    assert settings.index_path == Path("/tmp/x/index")
    assert settings.registry_url == "sqlite:////tmp/x/registry.sqlite3"
    assert settings.acl.default_groups == ("public",)


def test_environment_overrides_nested_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEWISE_EMBEDDING__BATCH_SIZE", "8")
    monkeypatch.setenv("CITEWISE_DATA_DIR", "/srv/citewise")
    settings = Settings.load()
    assert settings.embedding.batch_size == 8
    assert settings.data_dir == Path("/srv/citewise")


def test_yaml_file_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "citewise.yaml"
    config.write_text("chunking:\n  max_characters: 900\n  new_after_n_chars: 700\ntenant: acme\n")
    monkeypatch.setenv("CITEWISE_TENANT", "globex")
    settings = Settings.load(config)
    assert settings.chunking.max_characters == 900
    assert settings.tenant == "globex"


def test_unknown_keys_and_bad_values_are_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("embeding:\n  batch_size: 4\n")
    with pytest.raises(ConfigError, match="embeding"):
        Settings.load(config)
    with pytest.raises(ConfigError, match="batch_size"):
        Settings.load(embedding={"batch_size": 0})
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "missing.yaml")


def test_an_empty_default_acl_is_rejected() -> None:
    with pytest.raises(ConfigError, match="default_groups"):
        Settings.load(acl={"default_groups": []})
