"""Newsletter helpers: check an address before subscribing, and a sales report over the last N days.

Both answer from input alone (nothing is stored), so a scanner may call them freely; their cost is
what `availability.slow-input` measures. The handlers are plain functions, run in the thread pool.
"""

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, get_current_user

router = APIRouter(prefix="/api/newsletter", tags=["newsletter"], responses=UNAUTHORIZED)

CurrentUser = Annotated[dict, Depends(get_current_user)]
# The longest address RFC 5321 allows.
MAX_EMAIL = 254
# The longest report the spec documents.
MAX_DAYS = 366

if planted("availability.slow-input"):
    # FLAW availability.slow-input: a nested quantifier, `([...]+)+`, before the `@`: on a long run
    # of letters that never reaches an `@` Python's backtracking engine tries every way to split
    # the run, twice as many per extra letter.
    EMAIL = re.compile(r"^([a-zA-Z0-9_.+-]+)+@([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$")
    # FLAW availability.slow-input: `days` has no upper bound (the maximum is only documented),
    # and the report walks every day of the range in Python.
    Days = Annotated[int, Query(ge=1, json_schema_extra={"maximum": MAX_DAYS}, description="Days to cover")]
else:
    EMAIL = re.compile(r"^[a-zA-Z0-9_.+-]+@(?:[a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$")
    Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Days to cover")]


class AddressCheck(BaseModel):
    email: str
    valid: bool


class WeekdayReport(BaseModel):
    days: int
    busy_days_by_weekday: list[int]
    busiest_weekday: int


@router.get("/check", response_model=AddressCheck, summary="Check an e-mail address before subscribing it")
def check_address(user: CurrentUser, email: Annotated[str, Query(max_length=MAX_EMAIL)]):
    return {"email": email, "valid": EMAIL.match(email) is not None}


@router.get("/report", response_model=WeekdayReport, summary="Busy days by weekday over the last `days` days")
def report(user: CurrentUser, days: Days = 7):
    today = date.today().toordinal()
    by_weekday = [0] * 7
    for offset in range(days):
        day = today - offset
        week, weekday = divmod(day, 7)
        # Stand-in for the per-day sales figure: cheap, deterministic, and not constant.
        by_weekday[weekday] += (week * 31 + offset * 7 + day) % 97 > 48
    busiest = max(range(7), key=lambda i: by_weekday[i])
    return {"days": days, "busy_days_by_weekday": by_weekday, "busiest_weekday": busiest}
