"""Leases on ingestion job claims: any worker reclaims a running job whose lease ran out.

Running jobs claimed before this revision have no lease: workers treat them as expired and
reclaim them, so stop the workers of the previous version before starting the new ones.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``ingest_jobs.lease_expires_at`` and the index the reclaim query reads."""
    op.add_column(
        "ingest_jobs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_ingest_jobs_lease_expires_at", "ingest_jobs", ["lease_expires_at"])


def downgrade() -> None:
    """Drop the lease column (workers of the previous version requeue only their own jobs)."""
    with op.batch_alter_table("ingest_jobs") as batch:  # SQLite: a table rebuild
        batch.drop_index("ix_ingest_jobs_lease_expires_at")
        batch.drop_column("lease_expires_at")
