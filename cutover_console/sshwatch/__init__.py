"""Serving the read-only console to teammates over SSH."""
