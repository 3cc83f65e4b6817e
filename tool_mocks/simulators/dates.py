"""Simulated date tools of the study (BMTools style): today's date and date arithmetic.

"Today" is the server's fixed ``ctx.today``, never the wall clock, so answers replay exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ._base import Reply, SimContext, bad_request, ok, simulator

__all__ = (
    "add_date",
    "get_today_date",
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@simulator("get_today_date")
def get_today_date(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok(f"Today is {ctx.today.isoformat()}.")


@simulator("add_date")
def add_date(args: dict[str, Any], ctx: SimContext) -> Reply:
    raw = str(args["date"]).strip()
    days: int = args["days"]
    if not raw:
        return bad_request("parameter 'date' must not be empty; write it as yyyy-mm-dd", parameter="date")
    if not _ISO_DATE.fullmatch(raw):
        return bad_request(
            f"parameter 'date' must be written yyyy-mm-dd (e.g. 2023-04-01); got {raw!r}",
            parameter="date",
        )
    try:
        start = dt.date.fromisoformat(raw)
    except ValueError as exc:  # right shape, impossible day such as 2023-02-30
        return bad_request(f"parameter 'date' is not a real calendar date: {raw!r} ({exc})", parameter="date")
    try:
        result = start + dt.timedelta(days=days)
    except OverflowError:
        return bad_request(
            f"adding {days} days to {raw} leaves the supported range of years 1 to 9999",
            parameter="days",
        )
    return ok(result.isoformat())
