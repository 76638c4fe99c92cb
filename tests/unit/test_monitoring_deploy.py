"""The `monitoring` profile of docker-compose.yml and its files under deploy/, checked without
a Docker engine: Prometheus scrapes the API, Grafana is provisioned with that Prometheus and
the Citewise dashboard, and every series the dashboard queries is one the API exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.http.metrics import ApiMetrics
from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "citewise.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> repository path of a service's ``./`` bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def test_prometheus_and_grafana_run_only_in_the_monitoring_profile(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"], name
        assert services[name]["healthcheck"]["test"], name
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for name in ("api", "worker", "postgres", "qdrant"):
        assert "profiles" not in services[name], name


def test_the_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name in ("prometheus", "grafana"):
        for target, source in _bind_mounts(compose["services"][name]).items():
            assert (REPO / source).exists(), (name, source, target)


def test_prometheus_scrapes_the_api_metrics(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    mounts = _bind_mounts(prometheus)
    config_path = next(
        arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file=")
    )
    config = yaml.safe_load((REPO / mounts[config_path]).read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    (targets,) = [c["targets"] for c in job["static_configs"]]
    api_port = compose["services"]["api"]["command"][-1]
    assert targets == [f"api:{api_port}"]


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(
    compose: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    grafana = compose["services"]["grafana"]
    mounts = _bind_mounts(grafana)
    provisioning = REPO / mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (provisioning / "dashboards" / "citewise.yml").read_text(encoding="utf-8")
    )
    (provider,) = providers["providers"]
    folder = provider["options"]["path"]
    assert (REPO / mounts[folder] / DASHBOARD.name).samefile(DASHBOARD)
    uids = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    } | {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p}
    assert uids == {source["uid"]}


def test_every_dashboard_query_reads_series_the_api_exports(dashboard: dict[str, Any]) -> None:
    registry = ApiMetrics().registry
    exported = set()
    for family in registry.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",),
        }[family.type]
        exported |= {family.name + suffix for suffix in suffixes}
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queried |= set(re.findall(r"\bcitewise_[a-z0-9_]+", target["expr"]))
    assert queried, "the dashboard queries nothing"
    assert queried <= exported, sorted(queried - exported)
    # the quality signals of issue 17 are all on the dashboard
    for name in (
        "citewise_answers_total",
        "citewise_answers_withheld_total",
        "citewise_withheld_statements_total",
        "citewise_answer_support_score_bucket",
        "citewise_answer_citations_sum",
        "citewise_retrieval_top1_similarity_bucket",
        "citewise_feedback_total",
    ):
        assert name in queried, name


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, panel["title"]
        cells |= mine
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_api_and_worker_send_traces_when_an_endpoint_is_given(
    compose: dict[str, Any],
) -> None:
    env = compose["x-citewise-env"]
    assert env["CITEWISE_TELEMETRY__OTLP_ENDPOINT"] == "${OTLP_ENDPOINT:-}"
    assert Path(COMPOSE).read_text(encoding="utf-8").count("--profile monitoring") == 1
