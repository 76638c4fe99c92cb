"""The answer log and human reviews: every served answer, and reviewers' verdicts on them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``answer_log`` and ``answer_reviews`` with their time indexes."""
    op.create_table(
        "answer_log",
        sa.Column("answer_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),  # a JSON list, as text
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),  # the Answer as JSON
        sa.Column("abstained", sa.Boolean(), nullable=False),
        sa.Column("withheld_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("answer_id"),
    )
    op.create_index("ix_answer_log_created_at", "answer_log", ["created_at"])
    op.create_table(
        "answer_reviews",
        sa.Column("answer_id", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("corrected_answer", sa.Text(), nullable=True),
        sa.Column("reviewer_id", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answer_log.answer_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("answer_id"),
    )
    op.create_index("ix_answer_reviews_reviewed_at", "answer_reviews", ["reviewed_at"])


def downgrade() -> None:
    """Drop the reviews and the answer log."""
    op.drop_index("ix_answer_reviews_reviewed_at", table_name="answer_reviews")
    op.drop_table("answer_reviews")
    op.drop_index("ix_answer_log_created_at", table_name="answer_log")
    op.drop_table("answer_log")
