"""The sender of the current request, as the core's events record it."""
from flask import request

from fenfa_lib.events import Client


def request_client():
    return Client(ip=request.remote_addr or "", user_agent=request.user_agent.string or "")
