"""The durable inbox (replacing the processed-updates table) and the reply outbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_inbox_status", "inbox", ["status", "id"])
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])
    # What was handled before stays handled: a redelivery of it is still recognised.
    empty = "CAST('{}' AS JSON)" if op.get_bind().dialect.name == "postgresql" else "'{}'"
    op.execute(
        "INSERT INTO inbox (key, channel, payload, status, received_at) "
        f"SELECT key, 'telegram', {empty}, 'done', handled_at FROM processed_updates"
    )
    op.drop_table("processed_updates")
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(80), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_replies_address", "replies", ["channel", "address", "id"])
    op.create_index("ix_replies_due", "replies", ["due_at"])


def downgrade() -> None:
    op.drop_table("replies")
    op.create_table(
        "processed_updates",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("handled_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_processed_updates_handled_at", "processed_updates", ["handled_at"])
    op.execute(
        "INSERT INTO processed_updates (key, handled_at) "
        "SELECT key, received_at FROM inbox WHERE status = 'done'"
    )
    op.drop_table("inbox")
