"""Channels with rules: template sends (WhatsApp's messaging tier), and delivery receipts.

WhatsApp lets a number send templates to at most its tier of distinct users per 24 h, counted
across processes from `template_sends`. Its message ids are strings and its statuses (delivered,
read, failed) arrive later by webhook: `outbox.platform_id` finds the row they belong to, and
`outbox.receipt` keeps the latest.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_sends",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("template", sa.String(128), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_template_sends_recent", "template_sends", ["channel", "sent_at"])
    op.create_index("ix_template_sends_address", "template_sends", ["channel", "address"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("platform_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("receipt", sa.String(16), nullable=True))
        batch.create_index("ix_outbox_platform_id", ["platform_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_platform_id")
        batch.drop_column("receipt")
        batch.drop_column("platform_id")
    op.drop_index("ix_template_sends_address", "template_sends")
    op.drop_index("ix_template_sends_recent", "template_sends")
    op.drop_table("template_sends")
