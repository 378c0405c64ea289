"""Stakeholder updates by email and chat (Apprise), journaled as evidence: the outbox's delivery,
target by target, the scheduled and overdue updates, and the text each channel gets."""
