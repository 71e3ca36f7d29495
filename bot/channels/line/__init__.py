"""LINE Messaging API channel (Thailand): see runner.py for how `lessonbot run` serves it."""
