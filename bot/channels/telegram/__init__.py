"""Telegram: one framework-neutral bridge, and a thin adapter per framework (imported lazily)."""
