"""``citewise serve``: the HTTP API on the embedded default (nothing else to start)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.support import err, load_settings
from api.composition.telemetry import build_app, open_telemetry


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML settings file (else $CITEWISE_CONFIG).")
    ] = None,
) -> None:
    """Serve the API (search, ask) with uvicorn; models load before the first request."""
    import uvicorn

    settings = load_settings(config)
    if not settings.api.auth_required:
        err.print("[yellow]warning:[/yellow] api.auth_required is false: anyone may query")
    with open_telemetry(settings) as telemetry:  # traces when telemetry.otlp_endpoint is set
        app = build_app(settings, telemetry)
        uvicorn.run(app, host=host or settings.api.host, port=port or settings.api.port)
