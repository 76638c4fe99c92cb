"""The initial schema: documents and their event log, API keys, answer feedback.

Revision ID: 0001
Revises: (none)

These are exactly the tables the stores made with ``metadata.create_all`` before migrations
existed. Such a database has no ``alembic_version`` and, since each store created only its own
tables, may hold just some of them (a registry whose API keys were never used has no
``api_keys``). So this revision alone creates a table only where it is missing: upgrading an
old database adopts the tables it has, keeps their rows, and adds the rest. Later revisions
must not do this; they can rely on the schema this one leaves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TABLES = ("documents", "document_events", "api_keys", "feedback")


def upgrade() -> None:
    """Create whichever of the initial tables do not exist yet, with their indexes."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "documents" not in existing:
        op.create_table(
            "documents",
            sa.Column("doc_id", sa.String(36), nullable=False),
            sa.Column("source_uri", sa.Text(), nullable=False),
            sa.Column("title", sa.Text(), nullable=False),
            sa.Column("file_type", sa.String(16), nullable=True),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("pending_version", sa.Integer(), nullable=True),
            sa.Column("pipeline", sa.String(64), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("acl_users", sa.JSON(), nullable=False),
            sa.Column("acl_groups", sa.JSON(), nullable=False),
            sa.Column("tenant", sa.String(128), nullable=True),
            sa.Column("chunk_count", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("doc_id"),
            # unnamed, as create_all made it (PostgreSQL names it documents_source_uri_key)
            sa.UniqueConstraint("source_uri"),
        )
    if "document_events" not in existing:
        op.create_table(
            "document_events",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("doc_id", sa.String(36), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("event", sa.String(32), nullable=False),
            sa.Column("detail", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_document_events_doc_id", "document_events", ["doc_id"])
    if "api_keys" not in existing:
        op.create_table(
            "api_keys",
            sa.Column("key_id", sa.String(12), nullable=False),
            sa.Column("secret_sha256", sa.String(64), nullable=False),
            sa.Column("user_id", sa.Text(), nullable=False),
            sa.Column("groups", sa.Text(), nullable=False),  # a JSON list, as text
            sa.Column("tenant", sa.String(128), nullable=True),
            sa.Column("name", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("key_id"),
        )
    if "feedback" not in existing:
        op.create_table(
            "feedback",
            sa.Column("feedback_id", sa.String(32), nullable=False),
            sa.Column("answer_id", sa.String(64), nullable=False),
            sa.Column("user_id", sa.Text(), nullable=False),
            sa.Column("rating", sa.String(8), nullable=False),
            sa.Column("comment", sa.Text(), nullable=True),
            sa.Column("question", sa.Text(), nullable=True),
            sa.Column("answer_text", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("feedback_id"),
        )
        op.create_index("ix_feedback_answer_id", "feedback", ["answer_id"])
        op.create_index("ix_feedback_created_at", "feedback", ["created_at"])


def downgrade() -> None:
    """Drop the initial tables (and every row in them)."""
    for table in reversed(_TABLES):
        op.drop_table(table)
