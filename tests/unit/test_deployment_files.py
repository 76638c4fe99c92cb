"""docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs here).

The compose file is validated against the official Compose Specification JSON schema,
tests/data/compose-spec.json: compose-spec/compose-spec's schema/compose-spec.json
(Apache-2.0, tests/data/compose-spec.LICENSE) as vendored by check-jsonschema 0.39.0
(PyPI, check_jsonschema/builtin_schemas/vendor/compose-spec.json, sha256 pinned below).
It is validated as written and after Compose's variable interpolation (``${VAR:-default}``,
``${VAR:?error}``, ``$$``) for the default and the ``gpu`` set-ups, with jsonschema_rs (in the
lock). The Citewise environment it sets is loaded into the real Settings model. The Dockerfile
is checked for its essentials by reading its instructions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
SCHEMA = REPO / "tests" / "data" / "compose-spec.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"

SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "QDRANT_API_KEY": "qdrant-secret"}
GPU = {**SECRETS, "LLM_BACKEND": "openai"}

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})"
)


class MissingVariableError(Exception):
    """A mandatory ``${VAR:?message}`` variable was unset."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of every string in the file (the subset this file uses)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name, op, arg = m["name"], m["op"], m["arg"] or ""
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in {"-", ":-"} and unset:
            return arg
        if op in {"?", ":?"} and unset:
            raise MissingVariableError(f"{name}: {arg}")
        return current or ""

    return _VAR.sub(substitute, value)


@pytest.fixture(scope="module")
def validator() -> Any:
    raw = SCHEMA.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "vendored schema changed"
    return jsonschema_rs.validator_for(json.loads(raw))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _errors(validator: Any, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def _services(compose: dict[str, Any], profiles: set[str]) -> dict[str, Any]:
    """The services Compose starts with these profiles active."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if not svc.get("profiles") or profiles & set(svc["profiles"])
    }


def _depends_on(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = svc.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on must use the long form with conditions"
    return deps


def test_the_vendored_schema_rejects_what_it_should(validator: Any) -> None:
    """The validator is live: a misspelt key and a wrong type are both errors."""
    assert _errors(validator, {"services": {"a": {"image": "x", "helthcheck": {}}}})
    assert _errors(validator, {"services": {"a": {"image": "x", "ports": "8000"}}})
    assert not _errors(validator, {"services": {"a": {"image": "x"}}})


def test_compose_file_as_written_matches_the_compose_spec(
    validator: Any, compose: dict[str, Any]
) -> None:
    assert _errors(validator, compose) == []


@pytest.mark.parametrize("env", [SECRETS, GPU], ids=["default", "gpu"])
def test_compose_file_after_interpolation_matches_the_compose_spec(
    validator: Any, compose: dict[str, Any], env: dict[str, str]
) -> None:
    assert _errors(validator, interpolate(compose, env)) == []


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_secrets_are_mandatory(compose: dict[str, Any], missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(MissingVariableError, match=missing):
        interpolate(compose, env)


def test_the_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "api",
        "worker",
        "qdrant",
        "postgres",
        "vllm",
        "prometheus",
        "grafana",
    }
    assert _services(compose, set()).keys() == {"api", "worker", "qdrant", "postgres"}
    assert "vllm" in _services(compose, {"gpu"})
    assert compose["services"]["vllm"]["profiles"] == ["gpu"]


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        check = svc.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
    api_test = " ".join(compose["services"]["api"]["healthcheck"]["test"])
    assert "/readyz" in api_test
    assert "/health" in " ".join(compose["services"]["vllm"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(compose["services"]["postgres"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(compose["services"]["qdrant"]["healthcheck"]["test"])


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", "worker"):
        deps = _depends_on(services[name])
        for needed in ("postgres", "qdrant"):
            assert deps[needed]["condition"] == "service_healthy", (name, needed)
    assert _depends_on(services["api"])["vllm"]["condition"] == "service_healthy"
    # Without the gpu profile a dependency on a profile-only service must be optional,
    # or `docker compose up` refuses to start.
    default = _services(compose, set())
    for name, svc in default.items():
        for dep, spec in _depends_on(svc).items():
            if dep not in default:
                assert spec.get("required") is False, (name, dep)


def test_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for svc in compose["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith(("/", ".", "$")):
                used.add(source)
    assert used == declared
    mounts = {
        name: [v.split(":")[1] for v in svc.get("volumes", [])]
        for name, svc in compose["services"].items()
    }
    assert "/var/lib/postgresql/data" in mounts["postgres"]
    assert "/qdrant/storage" in mounts["qdrant"]
    assert "/root/.cache/huggingface" in mounts["vllm"]


def test_vllm_serves_the_openai_api_on_a_gpu(compose: dict[str, Any]) -> None:
    vllm = compose["services"]["vllm"]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    assert "--model" in vllm["command"]
    model = vllm["command"][vllm["command"].index("--model") + 1]
    assert model.startswith("${VLLM_MODEL")
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"
    assert "gpu" in devices[0]["capabilities"]
    # The api asks vLLM for the model name vLLM serves it under.
    served = vllm["command"][vllm["command"].index("--served-model-name") + 1]
    assert served == compose["services"]["api"]["environment"]["CITEWISE_LLM__MODEL"]


def test_api_runs_citewise_serve(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["command"] == ["citewise", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert api["build"] == "."
    assert compose["services"]["worker"]["image"] == api["image"]


def _citewise_settings(
    compose: dict[str, Any], service: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    resolved = interpolate(compose, env)["services"][service]["environment"]
    for key in list(os.environ):
        if key.startswith("CITEWISE_"):
            monkeypatch.delenv(key)
    for key, value in resolved.items():
        if key.startswith("CITEWISE_"):
            monkeypatch.setenv(key, str(value))
    return Settings.load()


@pytest.mark.parametrize("service", ["api", "worker"])
def test_the_environment_is_valid_citewise_settings(
    compose: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _citewise_settings(compose, service, SECRETS, monkeypatch)
    assert settings.index.backend == "qdrant"
    assert settings.index.url == "http://qdrant:6333"
    assert settings.index.api_key == "qdrant-secret"
    assert settings.registry_url == (
        "postgresql+psycopg://citewise:pg-secret@postgres:5432/citewise"
    )
    assert settings.data_dir == Path("/data")


def test_default_llm_is_in_process_and_gpu_uses_vllm(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    default = _citewise_settings(compose, "api", SECRETS, monkeypatch)
    assert default.llm.backend == "llama-cpp"
    gpu = _citewise_settings(compose, "api", GPU, monkeypatch)
    assert gpu.llm.backend == "openai"
    assert gpu.llm.base_url == "http://vllm:8000/v1"


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuations joined, comments dropped), per stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        op, _, args = stripped.partition(" ")
        if op.upper() == "FROM":
            stages.append([])
        stages[-1].append((op.upper(), " ".join(args.split())))
    return stages


def test_dockerfile_essentials() -> None:
    stages = _dockerfile_stages()
    every = [i for stage in stages for i in stage]
    final = stages[-1]
    assert all(args.startswith("python:3.11-slim") for op, args in every if op == "FROM")
    runs = " ".join(args for op, args in every if op == "RUN")
    assert "tesseract-ocr" in runs and "poppler-utils" in runs
    assert re.search(r"pip install [^&]*--no-deps -r requirements/lock\.txt", runs)
    assert re.search(r"pip install [^&]*--no-deps \./vendor/en_core_web_sm \.", runs)
    # The portable llama.cpp flags are the Makefile's, verbatim.
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    make_flags = re.search(r"export CMAKE_ARGS \?= (.+)", makefile)
    assert make_flags
    assert f'CMAKE_ARGS="{make_flags[1].strip()}"' in " ".join(
        args for op, args in every if op == "ENV"
    )
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert ("EXPOSE", "8000") in final
    assert any(op == "HEALTHCHECK" and "/readyz" in args for op, args in final)
    cmd = [args for op, args in final if op == "CMD"][-1]
    assert json.loads(cmd)[:2] == ["citewise", "serve"]
