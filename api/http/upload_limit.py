"""Refuse an oversized upload before its body is read.

FastAPI parses a multipart body (spooling files to disk) before the route runs, so a size check
in the route would come after the disk is already filled. This middleware answers from the
``Content-Length`` header instead; the staging copy counts the bytes again, so a wrong header
cannot sneak a larger file through.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.problems import problem

# Room for the multipart framing and the form fields around the file.
_FORM_OVERHEAD = 64 * 1024


class UploadLimitMiddleware:
    """413 for a POST to ``path`` declaring more than ``max_bytes`` (plus form overhead), 411
    for one that declares no length at all."""

    def __init__(self, app: ASGIApp, *, path: str, max_bytes: int) -> None:
        self.app = app
        self.path = path
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length of uploads; pass everything else through."""
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            headers = dict(scope["headers"])
            declared = headers.get(b"content-length")
            if declared is None or not declared.isdigit():
                response = problem(411, "Length Required", "send the upload with Content-Length")
                await response(scope, receive, send)
                return
            if int(declared) > self.max_bytes + _FORM_OVERHEAD:
                limit_mb = self.max_bytes / 1_000_000
                detail = f"the upload is over the {limit_mb:g} MB limit (api.max_upload_mb)"
                await problem(413, "Upload too large", detail)(scope, receive, send)
                return
        await self.app(scope, receive, send)
