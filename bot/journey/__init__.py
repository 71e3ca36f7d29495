"""The learner journey around the lessons: certificates, data rights, reminders, the follow-up
survey. It works on the store and reaches learners only through the channel interface."""
