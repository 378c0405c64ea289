"""The plan's duration type, one for every section (model.py imports the sections that use it,
so it cannot live there)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from .timeparse import TimeSyntaxError, parse_duration


def _duration(value: object) -> timedelta:
    try:
        return parse_duration(value)
    except TimeSyntaxError as exc:
        raise PydanticCustomError("plan", str(exc)) from None


Duration = Annotated[timedelta, BeforeValidator(_duration)]
