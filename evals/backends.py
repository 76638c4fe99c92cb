"""Where evaluation answers come from: the answer service in this process, or a running API.

Both produce the same checked ``Answer``, so every metric and judge downstream is blind to
which one ran: a deployment is evaluated exactly as its users see it.
"""

from __future__ import annotations

import time
from typing import Protocol

import httpx
from pydantic import ValidationError

from core.errors import CitewiseError
from evals.dataset import EvalExample
from generation.answer import AnswerService
from generation.answer_types import Answer


class BackendError(CitewiseError):
    """An answer could not be obtained (the API failed or answered something unreadable)."""


class AnswerBackend(Protocol):
    """Answers one evaluation question as its principal."""

    def answer(self, example: EvalExample) -> Answer:
        """The checked answer to ``example.question``."""
        ...


class ServiceBackend:
    """The answer service in this process (the embedded default or a vLLM generator)."""

    def __init__(self, service: AnswerService, *, tenant: str | None = None) -> None:
        self._service = service
        self._tenant = tenant

    def answer(self, example: EvalExample) -> Answer:
        """Answer as the example's principal."""
        principal = example.principal.to_principal(self._tenant)
        return self._service.answer(example.question, principal)


class ApiBackend:
    """``POST /v1/ask`` on a running Citewise API; the API key decides the principal, so the
    examples' own principals are not used."""

    def __init__(
        self, base_url: str, api_key: str | None, *, timeout_s: float = 600.0, retries: int = 3
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # Connection failures are retried by the transport; 503 (warming up, overloaded) here.
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            transport=httpx.HTTPTransport(retries=retries),
        )
        self._retries = retries

    def answer(self, example: EvalExample) -> Answer:
        """The API's answer; BackendError on a failed request or an unreadable body."""
        for attempt in range(self._retries + 1):
            try:
                response = self._client.post("/v1/ask", json={"question": example.question})
            except httpx.HTTPError as e:
                raise BackendError(f"{example.id}: the API request failed: {e}") from e
            if response.status_code != 503 or attempt == self._retries:
                break
            time.sleep(2.0 * (attempt + 1))
        if response.status_code != 200:
            detail = response.text[:300].replace("\n", " ")
            raise BackendError(f"{example.id}: the API answered {response.status_code}: {detail}")
        try:
            return Answer.model_validate(response.json())
        except (ValueError, ValidationError) as e:
            raise BackendError(f"{example.id}: the API's answer is not an Answer: {e}") from e

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()
