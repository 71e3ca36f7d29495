"""Survey waves and the encouragement arm.

The single follow-up invitation (`learners.survey_invited_at`, five months after the first
finished course) becomes one row per wave in `survey_waves`; the invitations already sent are
kept as the 5-month wave. `learners.arm` holds a learner's arm of a randomised encouragement.
The index on `answers.learner_id` widens to (learner, course, lesson, step), by which the report
pairs each learner's baseline and follow-up answers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FIVE_MONTHS = 5  # what SURVEY_AFTER_DAYS=150 was: the seed programme's follow-up


def upgrade() -> None:
    op.create_table(
        "survey_waves",
        sa.Column(
            "learner_id",
            sa.Integer(),
            sa.ForeignKey("learners.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("months", sa.Integer(), primary_key=True),
        sa.Column("invited_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_survey_waves_invited_at", "survey_waves", ["invited_at"])
    op.execute(
        "INSERT INTO survey_waves (learner_id, months, invited_at) "
        f"SELECT id, {FIVE_MONTHS}, survey_invited_at FROM learners "
        "WHERE survey_invited_at IS NOT NULL"
    )
    op.drop_index("ix_learners_survey_due", table_name="learners")
    # In place, not by copying the table (SQLite has had DROP COLUMN since 3.35, 2021): a copy
    # of a quarter of a million learners would be slow, and offline SQL can't be made for it.
    with op.batch_alter_table("learners", recreate="never") as batch:
        batch.drop_column("survey_invited_at")
        batch.add_column(sa.Column("arm", sa.String(16), nullable=True))
    op.create_index("ix_learners_course_done", "learners", ["first_course_done_at"])
    op.create_index(
        "ix_answers_learner_step", "answers", ["learner_id", "course", "lesson", "step"]
    )
    op.drop_index("ix_answers_learner_id", table_name="answers")


def downgrade() -> None:
    op.create_index("ix_answers_learner_id", "answers", ["learner_id"])
    op.drop_index("ix_answers_learner_step", table_name="answers")
    op.drop_index("ix_learners_course_done", table_name="learners")
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("arm")
        batch.add_column(sa.Column("survey_invited_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE learners SET survey_invited_at = (SELECT MIN(w.invited_at) FROM survey_waves w "
        "WHERE w.learner_id = learners.id)"
    )
    op.create_index(
        "ix_learners_survey_due", "learners", ["survey_invited_at", "first_course_done_at"]
    )
    op.drop_table("survey_waves")
