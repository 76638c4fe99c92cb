"""The audit log: every question, every document access and every admin action, append-only.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``audit_log`` with its time and user indexes."""
    op.create_table(
        "audit_log",
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),  # a JSON list, as text
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("question_sha256", sa.String(64), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("doc_ids", sa.Text(), nullable=False),  # a JSON list, as text
        sa.Column("chunk_ids", sa.Text(), nullable=False),  # a JSON list, as text
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("answer_id", sa.String(64), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),  # a JSON object, as text
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_user_id_at", "audit_log", ["user_id", "at"])


def downgrade() -> None:
    """Drop the audit log."""
    op.drop_index("ix_audit_log_user_id_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
