"""Working time as the settings write it: ``GATEWAY_WORKING_HOURS`` (``08:00-18:00``) and
``GATEWAY_WORKING_DAYS`` (``mon-fri``, ``mon,wed,fri``)."""

from __future__ import annotations

import re
from datetime import time

HOURS_PATTERN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hours(text: str) -> tuple[time, time]:
    """``08:00-18:00`` -> (08:00, 18:00); ValueError when malformed or not forwards."""
    match = HOURS_PATTERN.match(text)
    if match is None:
        raise ValueError("must look like 08:00-18:00")
    try:
        start = time(int(match[1]), int(match[2]))
        end = time(int(match[3]), int(match[4]))
    except ValueError:
        raise ValueError("holds an impossible time") from None
    if start >= end:
        raise ValueError("must start before it ends")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``mon,wed,fri``, ``mon-thu,sat`` -> weekdays (Monday = 0)."""
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError("must look like mon-fri or mon,wed,fri")
        lo, hi = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if hi < lo:
            raise ValueError("ranges must run forwards (mon-fri)")
        days.update(range(lo, hi + 1))
    return frozenset(days)
