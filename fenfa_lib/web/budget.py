"""The per-address budgets of rows that requests without a token may add, one budget for each kind (page
visits, page events, UDID profiles) so that one kind cannot use up another's. The counts live in the database
(fenfa_lib.address_limits), shared by every server on it."""
import math

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

from fenfa_lib.address_limits import Budget

# Rows a minute per address: enough for a team behind one NAT opening one link together (every tester
# visits and clicks a few times, a few register a device), not enough to flood the event table.
BUDGETS_PER_MINUTE = {"visits": 600, "events": 600, "profiles": 120}
BUDGETS = "fenfa.anonymous_budgets"


def init_budgets(app):
    app.extensions[BUDGETS] = {kind: Budget(kind, limit) for kind, limit in BUDGETS_PER_MINUTE.items()}


def anonymous_write_wait(kind):
    """Count one anonymous write of `kind` for this client: 0 when allowed, else the seconds until it may write
    again."""
    return current_app.extensions[BUDGETS][kind].hit(request.remote_addr or "")


def refuse_over_budget(kind, what):
    """429 with Retry-After when this client used up its writes of `kind` for the minute."""
    wait = anonymous_write_wait(kind)
    if wait:
        seconds = math.ceil(wait)
        raise TooManyRequests(f"too many {what} from this address; try again in {seconds} s", retry_after=seconds)
