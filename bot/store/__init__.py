"""Persistence: SQLAlchemy 2 async models, queries and Alembic migrations."""

from bot.store.db import create_engine, upgrade
from bot.store.learners import Identity, LearnerRecord, LearnerStore

__all__ = ["Identity", "LearnerRecord", "LearnerStore", "create_engine", "upgrade"]
