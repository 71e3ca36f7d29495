"""Processed channel updates (dedupe) and uploaded media ids.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_updates",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("handled_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_processed_updates_handled_at", "processed_updates", ["handled_at"])
    op.create_table(
        "media_files",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("path", sa.String(512), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("media_files")
    op.drop_table("processed_updates")
