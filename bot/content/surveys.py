"""Where the surveys live: lessons of an unlisted course, so authors and translators edit them
like any lesson, and the engine, the worker and the report agree on their ids."""

SURVEY_COURSE = "follow-up"
BASELINE = "baseline"  # asked once, after the profile, to learners who agreed to it
CHECK_IN = "check-in"  # the follow-up waves' questionnaire: the baseline's items and two more
