"""Ingestion jobs: uploads and deletes queued by the API and run by a worker.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``ingest_jobs`` table and its status and document indexes."""
    op.create_table(
        "ingest_jobs",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("doc_id", sa.String(36), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("file_type", sa.String(16), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("staged_path", sa.Text(), nullable=True),
        sa.Column("acl_users", sa.JSON(), nullable=True),
        sa.Column("acl_groups", sa.JSON(), nullable=True),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_ingest_jobs_status", "ingest_jobs", ["status"])
    op.create_index("ix_ingest_jobs_doc_id", "ingest_jobs", ["doc_id"])


def downgrade() -> None:
    """Drop the job table (queued jobs are lost)."""
    op.drop_index("ix_ingest_jobs_doc_id", table_name="ingest_jobs")
    op.drop_index("ix_ingest_jobs_status", table_name="ingest_jobs")
    op.drop_table("ingest_jobs")
