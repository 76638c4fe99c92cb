"""Property: through every HTTP endpoint, no caller ever sees a document they may not read.

The retrieval property test (tests/contract/test_acl_property.py) holds the index adapters to
the access rule; this one holds the HTTP layer to it, end to end. A fixed world of documents
with varied ACLs is uploaded through ``POST /v1/documents`` (the real job runner, parser,
MiniLM and qdrant-edge); hypothesis then draws callers (user, groups, tenant), each with a real
API key, and checks search (every mode, wide enough to return everything readable), document
list and get, job views, ``/v1/ask`` and ``/v1/chat/completions`` (the real 0.5B model) against
a plain-Python oracle of the rule: readable when the ACL names the user, one of the caller's
groups, or ``public``, and the caller has no tenant (the documents have none).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from api import composition
from api.http.app import create_app
from core.settings import Settings
from store.key_store import ApiKeyStore

pytestmark = [pytest.mark.model, pytest.mark.slow]

USERS = ("alice", "bob", "carol")
GROUPS = ("hr", "eng", "sales")
WORDS = ("zephyr", "quartz", "lantern", "meadow", "harbor", "falcon", "cobalt", "willow")


@dataclass(frozen=True)
class Caller:
    user: str
    groups: tuple[str, ...]
    tenant: str | None


@dataclass(frozen=True)
class World:
    client: TestClient
    admin: str
    acls: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # doc_id -> (users, groups)
    jobs: dict[str, str]  # job_id -> doc_id
    keys: ApiKeyStore
    tokens: dict[Caller, str]

    def token(self, caller: Caller) -> str:
        if caller not in self.tokens:
            self.tokens[caller] = self.keys.create(
                caller.user, caller.groups, tenant=caller.tenant
            )[1]
        return self.tokens[caller]

    def readable(self, caller: Caller) -> set[str]:
        """The oracle."""
        if caller.tenant is not None:
            return set()
        groups = {*caller.groups, "public"}
        return {
            doc_id
            for doc_id, (users, acl_groups) in self.acls.items()
            if caller.user in users or groups & set(acl_groups)
        }


def _acl(rng: random.Random) -> tuple[tuple[str, ...], tuple[str, ...]]:
    while True:
        users = tuple(u for u in USERS if rng.random() < 0.25)
        groups = tuple(g for g in (*GROUPS, "public") if rng.random() < 0.25)
        if users or groups:
            return users, groups


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_gguf: Path) -> Iterator[World]:
    root = tmp_path_factory.mktemp("acl-http")
    settings = Settings.load(
        data_dir=root / "data",
        ingest={"workers": 0},
        llm={"model": str(small_gguf), "max_answer_tokens": 48},
        search={"context_tokens": 400},
    )
    settings.data_dir.mkdir(parents=True)
    keys = ApiKeyStore(settings.registry_url)
    admin = keys.create("root", ["admins"])[1]
    rng = random.Random(7)
    with TestClient(create_app(settings, composition.open_services)) as client:
        submitted: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for n, word in enumerate(WORDS * 2):
            users, groups = _acl(rng)
            text = (
                f"# Memo {word} {n}\n\nThe {word} project code is {n * 37}. "
                f"Every project memo names its code; this memo is about {word}.\n"
            )
            data = {"acl_users": list(users), "acl_groups": list(groups)}
            response = client.post(
                "/v1/documents",
                files={"file": (f"memo-{n}.md", text.encode())},
                data=data,
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert response.status_code == 202, response.text
            submitted[response.json()["job_id"]] = (users, groups)
        acls, jobs = {}, {}
        for job_id, acl in submitted.items():
            job = _wait(client, admin, job_id)
            assert job["status"] == "done", job
            acls[job["doc_id"]], jobs[job_id] = acl, job["doc_id"]
        yield World(client, admin, acls, jobs, keys, {})
    keys.close()


def _wait(client: TestClient, token: str, job_id: str) -> dict:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job: dict = client.get(f"/v1/jobs/{job_id}", headers=_auth(token)).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


callers = st.builds(
    Caller,
    user=st.sampled_from(USERS),
    groups=st.lists(st.sampled_from(GROUPS), unique=True, max_size=3).map(tuple),
    tenant=st.sampled_from((None, None, None, "t1")),
)


def _examples(n: int) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


@_examples(40)
@given(
    caller=callers, word=st.sampled_from(WORDS), mode=st.sampled_from(("hybrid", "dense", "sparse"))
)
def test_search_returns_exactly_the_readable_documents(
    world: World, caller: Caller, word: str, mode: str
) -> None:
    readable = world.readable(caller)
    token = world.token(caller)
    # Every memo shares "project memo code": a wide search must find all readable ones.
    body = {"query": f"project memo code {word}", "k": 100, "mode": mode}
    response = world.client.post("/v1/search", json=body, headers=_auth(token))
    assert response.status_code == 200, response.text
    found = {hit["doc_id"] for hit in response.json()["results"]}
    assert found == readable


@_examples(40)
@given(caller=callers, pick=st.integers(0, 10_000))
def test_documents_and_jobs_show_only_the_readable(world: World, caller: Caller, pick: int) -> None:
    readable = world.readable(caller)
    token = world.token(caller)
    listed = world.client.get("/v1/documents", headers=_auth(token)).json()["documents"]
    assert {d["doc_id"] for d in listed} == readable
    doc_ids = sorted(world.acls)
    doc_id = doc_ids[pick % len(doc_ids)]
    got = world.client.get(f"/v1/documents/{doc_id}", headers=_auth(token))
    assert got.status_code == (200 if doc_id in readable else 404)
    job_ids = sorted(world.jobs)
    # Jobs are the submitter's (the admin's) and the admins' business only.
    job = world.client.get(f"/v1/jobs/{job_ids[pick % len(job_ids)]}", headers=_auth(token))
    assert job.status_code == 404
    assert world.client.get("/v1/jobs", headers=_auth(token)).status_code == 403


@_examples(3)
@given(caller=callers, word=st.sampled_from(WORDS))
def test_answers_cite_and_show_only_the_readable(world: World, caller: Caller, word: str) -> None:
    readable = world.readable(caller)
    token = world.token(caller)
    question = f"What is the {word} project code?"
    asked = world.client.post("/v1/ask", json={"question": question}, headers=_auth(token))
    assert asked.status_code == 200, asked.text
    chat = world.client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": question}]},
        headers=_auth(token),
    )
    assert chat.status_code == 200, chat.text
    for answer in (asked.json(), chat.json()["citewise"]):
        shown = {s["doc_id"] for s in answer["sources"]} | {
            c["doc_id"] for c in answer["citations"]
        }
        assert shown <= readable
        if not readable:
            assert answer["abstained"]
    # The plain-text footer names only sources the structured answer holds.
    footer = chat.json()["choices"][0]["message"]["content"]
    for doc_id in set(world.acls) - readable:
        assert doc_id not in footer
