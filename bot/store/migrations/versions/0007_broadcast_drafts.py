"""Broadcast drafts: what an admin previewed, sent at most once.

A preview stores the broadcast as shown; "Send now" and "Schedule" carry the draft's id and
consume it in the transaction that queues the broadcast, so a double tap, an old button or a
redelivered update cannot queue it twice.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcast_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), sa.ForeignKey("broadcasts.id"), nullable=True),
        sqlite_autoincrement=True,  # an old button must never name a newer draft
    )


def downgrade() -> None:
    op.drop_table("broadcast_drafts")
