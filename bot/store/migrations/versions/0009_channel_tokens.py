"""Channel tokens: a channel's access token and single-use refresh token, kept across restarts.

Zalo's OA access token expires after about 25 hours, and each refresh returns a new refresh
token and spends the old one: the pair must be stored where every process (the web server and
the worker) and the next start find it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_tokens",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("access_token", sa.String(1024), nullable=False),
        sa.Column("refresh_token", sa.String(1024), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_tokens")
