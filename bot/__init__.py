"""LessonBot: short lessons over Telegram for micro-entrepreneurs in South-East Asia."""

__version__ = "0.1.0"
