"""Zalo Official Account API v3: the channel for learners in Vietnam."""
