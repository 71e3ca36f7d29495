"""The learner journey: consent and profile, reminders, follow-up survey, certificates, and the
anonymous counts kept after a learner erases their data.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PROFILE = ("business", "gender", "age_group", "disability", "minority")


def upgrade() -> None:
    # Plain ADD COLUMNs, also on SQLite, where batch mode would otherwise copy the whole table
    # for the sa.false() default: slow on many learners, and impossible in `alembic upgrade --sql`.
    with op.batch_alter_table("learners", recreate="never") as batch:
        batch.add_column(sa.Column("consent", sa.String(8), nullable=False, server_default=""))
        for name in PROFILE:
            batch.add_column(sa.Column(name, sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("opted_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("resume_lesson", sa.String(130), nullable=True))
        batch.add_column(sa.Column("nudges_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_nudged_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("first_course_done_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("survey_invited_at", sa.DateTime(), nullable=True))
    # The reminder and survey loops look for due learners by these.
    op.create_index("ix_learners_resume", "learners", ["resume_lesson", "last_active_at"])
    op.create_index(
        "ix_learners_survey_due", "learners", ["survey_invited_at", "first_course_done_at"]
    )
    op.create_table(
        "certificates",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column(
            "learner_id",
            sa.Integer(),
            sa.ForeignKey("learners.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("learner_id", "course"),
    )
    op.create_table(
        "anonymous_counts",
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(130), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("anonymous_counts")
    op.drop_table("certificates")
    op.drop_index("ix_learners_survey_due", "learners")
    op.drop_index("ix_learners_resume", "learners")
    with op.batch_alter_table("learners") as batch:
        for name in (
            "survey_invited_at",
            "first_course_done_at",
            "last_nudged_at",
            "nudges_sent",
            "resume_lesson",
            "opted_out",
            *reversed(PROFILE),
            "consent",
        ):
            batch.drop_column(name)
