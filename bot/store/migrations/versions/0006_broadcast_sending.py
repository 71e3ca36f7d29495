"""Broadcast sending without a lease: an owner on each claimed outbox row, a heartbeat table of
running senders, an index the claim can use, and the broadcast photo's reusable id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs of nullable columns: no copy of the outbox (it can hold millions of rows).
    with op.batch_alter_table("outbox", recreate="never") as batch:
        batch.add_column(sa.Column("owner", sa.String(32), nullable=True))
    with op.batch_alter_table("broadcasts", recreate="never") as batch:
        batch.add_column(sa.Column("photo_id", sa.String(256), nullable=True))
    # The claim reads one broadcast's due rows in due order; the old (status, next_attempt_at)
    # index makes it scan every broadcast's rows.
    op.create_index("ix_outbox_claim", "outbox", ["broadcast_id", "status", "next_attempt_at"])
    op.create_table(
        "broadcast_senders",
        sa.Column("owner", sa.String(32), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    # Rows a sender held go back to `pending`, which is what the old lease made of them.
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'")
    op.drop_table("broadcast_senders")
    op.drop_index("ix_outbox_claim", "outbox")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("photo_id")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("owner")
