"""Use cases on ports only: activation, approvals, reminders, recovery, kept work, queries."""
