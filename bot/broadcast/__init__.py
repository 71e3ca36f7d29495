"""Admin broadcasts: targeted, multilingual, rate-limited, crash-safe, with delivery reports.

Broadcasts reach learners only through a channel's `Deliverer`; nothing here imports a
Telegram framework.
"""
