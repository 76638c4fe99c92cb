"""``citewise worker``: run the ingestion jobs the API queues, in a process of its own.

For the scaled deployment, where the API runs with ``api.run_jobs: false``, the registry (and
its job queue) is PostgreSQL, the index is a Qdrant server every process can reach (the
embedded index admits one process at a time), and uploads are staged in a folder the API and
every worker share (``ingest.staging_dir``). Run as many workers, on as many hosts, as needed:
each claims jobs under a lease it renews while the job runs, any worker takes over the job of
a worker that died once its lease runs out, and a document's jobs run one at a time, in the
order they were queued.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from api import composition
from api.cli.support import err, fail, load_settings
from api.composition.telemetry import open_telemetry
from core.errors import CitewiseError


def worker(
    heartbeat: Annotated[
        Path | None,
        typer.Option(help="Touch this file every few seconds while healthy (for health checks)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML settings file (else $CITEWISE_CONFIG).")
    ] = None,
) -> None:
    """Run queued ingestion jobs (uploads, deletes) until stopped by Ctrl-C or SIGTERM.

    Jobs this worker (its ``ingest.worker_id``) was running when it last stopped are resumed
    first; a dead worker's jobs are taken over once their lease (``ingest.job_lease_s``) runs
    out. A job in progress at shutdown is finished if it can be within 30 s, else resumed.
    """
    settings = load_settings(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with (
            open_telemetry(settings) as telemetry,  # traces when telemetry.otlp_endpoint is set
            composition.open_store(settings) as store,
            composition.open_document_service(
                settings, store, run_jobs=True, tracer=telemetry.tracer
            ) as (_, runner),
        ):
            assert runner is not None  # run_jobs=True
            err.print(f"worker {runner.worker_id} ready: waiting for jobs")
            try:
                while not stop.is_set():
                    if heartbeat is not None:
                        heartbeat.touch()
                    stop.wait(5.0)
            except KeyboardInterrupt:
                pass
            err.print("stopping")
    except CitewiseError as e:
        raise fail(e) from e
