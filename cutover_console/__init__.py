"""Cutover Console: run a weekend migration cutover from the terminal, on an audit journal."""

__version__ = "0.1.0"
