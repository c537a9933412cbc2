"""Newsletter helpers: check an address before subscribing, and a sales report over the last N days.

Both answer from input alone (nothing is stored), so a scanner may call them freely; their cost is
what `availability.slow-input` measures.
"""

import re
from datetime import date

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop.auth import login_required
from flask_shop.validation import int_arg, text_arg

bp = Blueprint("newsletter", __name__, url_prefix="/api/newsletter")

# The longest address RFC 5321 allows.
MAX_EMAIL = 254
# The longest report the spec documents.
MAX_DAYS = 366

if planted("availability.slow-input"):
    # FLAW availability.slow-input: a nested quantifier, `([...]+)+`, before the `@`: on a long run
    # of letters that never reaches an `@` Python's backtracking engine tries every way to split
    # the run, twice as many per extra letter.
    EMAIL = re.compile(r"^([a-zA-Z0-9_.+-]+)+@([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$")
else:
    EMAIL = re.compile(r"^[a-zA-Z0-9_.+-]+@(?:[a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$")


@bp.get("/check")
@login_required
def check_address():
    email = text_arg("email", MAX_EMAIL) or ""
    return jsonify(email=email, valid=EMAIL.match(email) is not None)


@bp.get("/report")
@login_required
def report():
    if planted("availability.slow-input"):
        # FLAW availability.slow-input: `days` has no upper bound, and the report walks every day
        # of the range in Python: the work grows with a number the caller chooses.
        days = int_arg("days", 7, 1, 2**31 - 1)
    else:
        days = int_arg("days", 7, 1, MAX_DAYS)
    today = date.today().toordinal()
    by_weekday = [0] * 7
    for offset in range(days):
        day = today - offset
        week, weekday = divmod(day, 7)
        # Stand-in for the per-day sales figure: cheap, deterministic, and not constant.
        by_weekday[weekday] += (week * 31 + offset * 7 + day) % 97 > 48
    busiest = max(range(7), key=lambda i: by_weekday[i])
    return jsonify(days=days, busy_days_by_weekday=by_weekday, busiest_weekday=busiest)
