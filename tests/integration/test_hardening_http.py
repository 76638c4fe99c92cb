"""Issue 16's attacks, replayed against a real ``citewise serve`` on loopback (uvicorn, the
sample corpus, the 0.5B model, employee / HR / admin keys), each as the issue describes it.

The server runs with a private ``TMPDIR``, 2 MB uploads and a 2 s body idle timeout, so what it
spools (multipart files go to the temp directory) can be watched in ``/proc/<pid>/fd`` while
an attack streams."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from store.key_store import ApiKeyStore
from tests.integration.hostile_files import blank_pdf, zip_bomb_docx
from tests.live_server import citewise_serve, free_port

pytestmark = [pytest.mark.model, pytest.mark.slow]

UPLOAD_MB = 2
IDLE_S = 2.0
VACATION = "How much paid vacation do employees accrue?"
FULL_WIDTH_NAME = "..\uff0f..\uff0f\uff45\uff56\uff49\uff4c.md"  # full-width "../../evil.md"


@dataclass
class Server:
    url: str
    port: int
    pid: int
    tmp: Path
    corpus: Path
    keys: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert found is not None
        return int(found.group(1))


@dataclass
class SpoolWatch:
    """Polls the server's open files for ones in its temp directory (spooled bodies are
    unlinked temporary files, so the directory listing would show nothing)."""

    pid: int
    tmp: Path
    largest: int = 0
    opened: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> SpoolWatch:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        fds = Path(f"/proc/{self.pid}/fd")
        seen: set[str] = set()
        while not self._stop.is_set():
            for fd in list(fds.iterdir()):
                with suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith(str(self.tmp)):
                        seen.add(target)
                        self.largest = max(self.largest, os.stat(fd).st_size)
            self.opened = len(seen)
            time.sleep(0.01)


@pytest.fixture(scope="module")
def server(
    sample_api_settings: Settings, small_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    settings = sample_api_settings
    corpus = settings.data_dir.parent / "corpus"
    keys_store = ApiKeyStore(settings.registry_url)
    try:
        keys = {
            "employee": keys_store.create("emma")[1],
            "hr": keys_store.create("harry", ["hr"])[1],
            "admin": keys_store.create("ada", ["admins"])[1],
        }
    finally:
        keys_store.close()
    tmp = tmp_path_factory.mktemp("server-tmp")
    port = free_port()
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "CITEWISE_DATA_DIR": str(settings.data_dir),
        "CITEWISE_LLM__MODEL": str(small_gguf),
        "CITEWISE_API__MAX_UPLOAD_MB": str(UPLOAD_MB),
        "CITEWISE_API__BODY_IDLE_TIMEOUT_S": str(IDLE_S),
        "CITEWISE_API__DISPLAY_ROOTS": json.dumps([str(corpus)]),
        "CITEWISE_PARSING__PARSER_MEMORY_MB": "3000",
    }
    env.pop("CITEWISE_CONFIG", None)
    with citewise_serve(env, port=port) as (process, url):
        yield Server(url, port, process.pid, tmp, corpus, keys)


def _raw(
    server: Server, head: str, body: Iterable[bytes] = (), *, wait_s: float = 30.0
) -> tuple[bytes, bool]:
    """Send ``head`` and stream ``body`` on a raw socket (no client library would send a
    fake ``Content-Length`` beside ``chunked``); the response bytes, and whether the server
    closed the connection."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(wait_s)

    def stream() -> None:
        with suppress(OSError):  # the server may refuse and close while we still send
            sock.sendall(head.encode())
            for part in body:
                sock.sendall(part)

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    received = b""
    closed = False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            received += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        closed = True
    finally:
        sock.close()
    return received, closed


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _problem(response: bytes) -> dict[str, object]:
    body = response.split(b"\r\n\r\n", 1)[1]
    problem: dict[str, object] = json.loads(body)
    return problem


def _post_json(server: Server, path: str, body: bytes, auth: dict[str, str]) -> tuple[int, bytes]:
    """POST a JSON body on a raw socket: the server may answer and close before the client
    has sent it all, which an HTTP client reports as a write error instead of the answer."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in auth.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    )
    step = 1 << 20
    response, _ = _raw(server, head, (body[i : i + step] for i in range(0, len(body), step)))
    return _status(response), response


def _chunked_upload(
    server: Server, total_mb: int, auth: dict[str, str]
) -> tuple[str, Iterator[bytes]]:
    """Issue item 1: ``Transfer-Encoding: chunked`` *and* a small fake ``Content-Length``."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in auth.items())
    head = (
        "POST /v1/documents HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Content-Length: 100\r\n"
        f"{headers}\r\n"
    )

    def chunks() -> Iterator[bytes]:
        preamble = (
            b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.md"\r\n'
            b"Content-Type: text/markdown\r\n\r\n"
        )
        yield b"%x\r\n%s\r\n" % (len(preamble), preamble)
        block = b"a" * (1 << 20)
        for _ in range(total_mb):
            yield b"%x\r\n%s\r\n" % (len(block), block)
        yield b"0\r\n\r\n"

    return head, chunks()


def test_a_chunked_upload_with_a_fake_length_is_refused_without_a_key_before_any_spooling(
    server: Server,
) -> None:
    head, body = _chunked_upload(server, 200, {})
    started = time.monotonic()
    with SpoolWatch(server.pid, server.tmp) as watch:
        response, closed = _raw(server, head, body)
    assert _status(response) == 401, response[:300]
    assert b"connection: close" in response.lower() and closed
    assert time.monotonic() - started < 20, "refused at the headers, not after 200 MB"
    assert watch.opened == 0 and watch.largest == 0, "nothing is spooled before the key check"


def test_a_chunked_upload_with_a_fake_length_and_a_key_stops_at_the_limit(
    server: Server,
) -> None:
    head, body = _chunked_upload(server, 50, server.auth("admin"))
    with SpoolWatch(server.pid, server.tmp) as watch:
        response, closed = _raw(server, head, body)
    assert _status(response) == 413, response[:300]
    assert "api.max_upload_mb" in str(_problem(response)["title"])
    assert closed
    limit = UPLOAD_MB * 1_000_000 + 64 * 1024
    assert watch.largest <= limit, f"{watch.largest} bytes spooled, over the {limit} limit"
    left = sum(f.stat().st_size for f in server.tmp.rglob("*") if f.is_file())
    assert left < 64 * 1024, f"{left} bytes left in the temp directory"


def test_a_non_admin_upload_is_refused_before_it_is_spooled(server: Server) -> None:
    head, body = _chunked_upload(server, 20, server.auth("employee"))
    with SpoolWatch(server.pid, server.tmp) as watch:
        response, _ = _raw(server, head, body)
    assert _status(response) == 403
    assert watch.opened == 0


def test_an_honest_upload_without_a_key_is_refused_unread(server: Server) -> None:
    size = 40 * 1_000_000
    head = (
        "POST /v1/documents HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    block = b"a" * (1 << 20)
    with SpoolWatch(server.pid, server.tmp) as watch:
        response, closed = _raw(server, head, (block for _ in range(size // len(block))))
    assert _status(response) == 401 and closed
    assert watch.opened == 0


def test_oversized_json_is_refused_before_it_is_parsed(server: Server) -> None:
    # Issue item 2: 60 MB of JSON without a key was parsed (+155 MB) before its 401.
    big = b'{"query": "' + b"x" * (60 * 1_000_000) + b'"}'
    before = server.rss_kb()
    status, _ = _post_json(server, "/v1/search", big, {})
    assert status == 401
    status, response = _post_json(server, "/v1/search", big, server.auth("employee"))
    assert status == 413, response[:300]
    assert b"application/problem+json" in response
    assert "api.max_json_kb" in str(_problem(response)["title"])
    grown_mb = (server.rss_kb() - before) / 1024
    assert grown_mb < 40, f"the server grew {grown_mb:.0f} MB reading refused bodies"


def test_search_fields_are_bounded(server: Server) -> None:
    url, auth = f"{server.url}/v1/search", server.auth("employee")
    many = {"query": "vacation", "filters": {"file_types": ["md"] * 200_000}}
    assert _post_json(server, "/v1/search", json.dumps(many).encode(), auth)[0] == 413
    long_prefix = {"query": "vacation", "filters": {"path_prefix": "/" * 1_000_000}}
    assert _post_json(server, "/v1/search", json.dumps(long_prefix).encode(), auth)[0] == 413
    # Under the body limit, the schema's own limits answer 422.
    for body in (
        {"query": "vacation", "filters": {"file_types": ["md"] * 100}},
        {"query": "vacation", "filters": {"path_prefix": "/" * 2000}},
        {"query": "vacation", "filters": {"file_types": ["m" * 100]}},
        {"query": "v" * 2001},
    ):
        refused = httpx.post(url, json=body, headers=auth, timeout=60)
        assert refused.status_code == 422, body
    assert httpx.post(url, json={"query": "vacation"}, headers=auth, timeout=60).status_code == 200


def test_a_slow_body_is_dropped_after_the_timeout(server: Server) -> None:
    # Issue item 7: a declared but unsent body held the connection open indefinitely.
    head = (
        "POST /v1/search HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.keys['employee']}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    started = time.monotonic()
    response, closed = _raw(server, head, [b'{"query": '], wait_s=IDLE_S * 10)
    waited = time.monotonic() - started
    assert _status(response) == 408, response[:300]
    assert closed, "the connection is dropped"
    assert IDLE_S * 0.9 <= waited < IDLE_S * 5


def _upload(server: Server, name: str, content: bytes) -> dict[str, object]:
    response = httpx.post(
        f"{server.url}/v1/documents",
        files={"file": (name, content)},
        headers=server.auth("admin"),
        timeout=60,
    )
    assert response.status_code == 202, response.text
    job: dict[str, object] = response.json()
    return job


def _finished(server: Server, job_id: object, timeout_s: float = 180) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, object] = httpx.get(
            f"{server.url}/v1/jobs/{job_id}", headers=server.auth("admin")
        ).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def test_unicode_upload_names_are_normalised_then_stripped(server: Server) -> None:
    # Issue item 5: "..<FULLWIDTH SOLIDUS>..<FULLWIDTH SOLIDUS>evil.md" in full-width letters
    # was stored as '../../evil.md', and right-to-left overrides survived.
    text = b"# Evil\n\nThe evil plan is documented here for the test.\n"
    first = _upload(server, FULL_WIDTH_NAME, text)
    assert first["filename"] == "evil.md"
    second = _upload(
        server, "notes\u202edm.txt", b"# Notes\n\nPlain notes for the filename test.\n"
    )
    assert second["filename"] == "notesdm.txt"
    assert _finished(server, first["job_id"])["status"] == "done"
    assert _finished(server, second["job_id"])["status"] == "done"
    listed = httpx.get(f"{server.url}/v1/documents", headers=server.auth("admin")).json()
    uris = {d["source_uri"] for d in listed["documents"]}
    assert {"upload:///evil.md", "upload:///notesdm.txt"} <= uris
    assert not any(".." in u or "\u202e" in u for u in uris)
    # The same last component is the same document: a new version replaces it (documented).
    again = _upload(server, "C:\\elsewhere\\evil.md", text + b"\nA second version.\n")
    assert again["doc_id"] == first["doc_id"]
    assert _finished(server, again["job_id"])["status"] == "done"


def test_readers_see_display_paths_and_admins_see_server_paths(server: Server) -> None:
    # Issue item 6: file:///... URIs and content hashes were shown to every reader.
    for who in ("employee", "hr"):
        documents = httpx.get(f"{server.url}/v1/documents", headers=server.auth(who)).json()
        assert documents["documents"]
        for document in documents["documents"]:
            assert document["content_hash"] is None
            assert "file://" not in document["source_uri"]
            assert str(server.corpus) not in document["source_uri"]
        shown = {d["source_uri"] for d in documents["documents"]}
        assert "policies/travel.md" in shown or any("/" in s for s in shown)
        one = documents["documents"][0]
        single = httpx.get(f"{server.url}/v1/documents/{one['doc_id']}", headers=server.auth(who))
        assert single.json()["source_uri"] == one["source_uri"]
        assert single.json()["content_hash"] is None
        hits = httpx.post(
            f"{server.url}/v1/search", json={"query": "vacation"}, headers=server.auth(who)
        ).json()["results"]
        assert hits and not any("file://" in h["source_uri"] for h in hits)
    hr_docs = httpx.get(f"{server.url}/v1/documents", headers=server.auth("hr")).json()
    assert any(d["source_uri"].startswith("hr/") for d in hr_docs["documents"])
    admin = httpx.get(f"{server.url}/v1/documents", headers=server.auth("admin")).json()
    files = [d for d in admin["documents"] if d["source_uri"].startswith("file://")]
    assert files and all(len(d["content_hash"]) == 64 for d in files)
    assert all(str(server.corpus) in d["source_uri"] for d in files)


def _ask(server: Server, who: str, **extra: object) -> dict[str, object]:
    response = httpx.post(
        f"{server.url}/v1/ask",
        json={"question": VACATION, **extra},
        headers=server.auth(who),
        timeout=300,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_model_text_is_hidden_unless_an_admin_asks_for_it(server: Server) -> None:
    # Issue item 8: an abstaining answer still carried the model's raw text.
    employee = _ask(server, "employee")
    assert employee["model_text"] is None
    sources = [*employee["citations"], *employee["sources"]]  # type: ignore[misc]
    assert sources and not any("file://" in s["source_uri"] for s in sources)
    assert _ask(server, "employee", debug=True)["model_text"] is None, "debug is for admins"
    assert _ask(server, "admin")["model_text"] is None, "never by default, even for admins"
    debugged = _ask(server, "admin", debug=True)
    assert debugged["model_text"], "an admin who asks gets the raw text"
    # The stream: no draft deltas and no model_text for a reader.
    events: list[tuple[str, str]] = []
    headers = {**server.auth("employee"), "Accept": "text/event-stream"}
    with httpx.stream(
        "POST", f"{server.url}/v1/ask", json={"question": VACATION}, headers=headers, timeout=300
    ) as response:
        name = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, line.split(":", 1)[1].strip()))
    assert [n for n, _ in events] == ["sources", "answer"]
    assert json.loads(events[-1][1])["model_text"] is None
    assert "file://" not in events[0][1]


def test_feedback_on_someone_elses_answer_is_refused(server: Server) -> None:
    # Issue item 9: feedback was accepted for any answer_id.
    answer_id = _ask(server, "employee")["answer_id"]
    url = f"{server.url}/v1/feedback"
    rating = {"answer_id": answer_id, "rating": "down"}
    assert httpx.post(url, json=rating, headers=server.auth("hr")).status_code == 404
    made_up = {"answer_id": "0" * 32, "rating": "up"}
    assert httpx.post(url, json=made_up, headers=server.auth("employee")).status_code == 404
    mine = httpx.post(url, json=rating, headers=server.auth("employee"))
    assert mine.status_code == 201, mine.text


def test_bombs_and_page_floods_fail_as_api_jobs(server: Server, tmp_path: Path) -> None:
    # Issue items 3 and 4 through the API's ingestion jobs (parser process, real limits).
    bomb = zip_bomb_docx(tmp_path / "bomb.docx").read_bytes()
    pages = blank_pdf(tmp_path / "blank.pdf").read_bytes()
    started = time.monotonic()
    bomb_job = _finished(server, _upload(server, "bomb.docx", bomb)["job_id"], 60)
    pdf_job = _finished(server, _upload(server, "blank.pdf", pages)["job_id"], 60)
    assert time.monotonic() - started < 60
    assert bomb_job["status"] == "failed" and "parsing.max_unzipped_mb" in str(bomb_job["error"])
    assert pdf_job["status"] == "failed" and "parsing.max_pdf_pages" in str(pdf_job["error"])
    after = _upload(server, "after.md", b"# After\n\nThe queue goes on after hostile files.\n")
    assert _finished(server, after["job_id"])["status"] == "done"
