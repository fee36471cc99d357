"""Signing in to the pages: a signed, expiring, HttpOnly, SameSite session cookie, and CSRF.

The cookie holds the signed-in key's id and a fingerprint of its hash (so a revoked or replaced
key ends its sessions at once), a CSRF token, and when it was issued; it is signed with
``SESSION_SECRET`` (a random secret per process when unset, so sessions end at a restart) and
expires after ``SESSION_HOURS``. Every form carries the session's CSRF token and every POST to
a page is refused without it. Nothing personal goes in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from service.db import get_read_sessionmaker
from service.deps import Caller, SessionDep, caller_of_key
from service.scope import set_region
from service.tables import ApiKey

COOKIE = "uitstroom_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """The page needs a signed-in person; the handler sends the browser to the sign-in page."""


class CsrfRefused(Exception):
    """A form came without this session's CSRF token."""


@dataclass
class WebSession:
    csrf: str
    key_id: int | None = None
    fingerprint: str | None = None
    issued: float = field(default_factory=time.time)
    changed: bool = False
    flash: str | None = None  # a message shown once on the next page

    def dump(self) -> dict:
        data = {"c": self.csrf, "k": self.key_id, "f": self.fingerprint, "t": self.issued}
        return data | ({"m": self.flash} if self.flash else {})


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.session_secret, salt="uitstroom-session")


def fingerprint(key_hash: str) -> str:
    return hashlib.sha256(("session:" + key_hash).encode()).hexdigest()[:32]


def web_session(request: Request) -> WebSession:
    """This request's session: read once from the cookie, or a new anonymous one."""
    if hasattr(request.state, "web_session"):
        return request.state.web_session
    settings = request.app.state.settings
    found = None
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(request).loads(raw, max_age=int(settings.session_hours * 3600))
            found = WebSession(data["c"], data.get("k"), data.get("f"), data.get("t", 0))
            found.flash = data.get("m")
        except (BadSignature, KeyError, TypeError):
            found = None
        if found is not None and time.time() - found.issued > settings.session_hours * 3600:
            found = None  # the session ends a fixed time after sign-in, used or not
    if found is None:
        found = WebSession(secrets.token_urlsafe(32), changed=True)
    request.state.web_session = found
    return found


def signed_in_caller(request: Request) -> Caller | None:
    """The caller of the signed-in key, checked against the database on every request."""
    if hasattr(request.state, "web_caller"):
        return request.state.web_caller
    session = web_session(request)
    caller = None
    if session.key_id is not None:
        maker = get_read_sessionmaker(request.app.state.settings.database_url)
        with maker() as db:
            row = db.get(ApiKey, session.key_id)
            if row is not None and hmac.compare_digest(
                fingerprint(row.key_hash), session.fingerprint or ""
            ):
                caller = caller_of_key(row)
    request.state.web_caller = caller
    return caller


def page_caller(request: Request, session: SessionDep) -> Caller:
    """The signed-in person, or off to the sign-in page. Scopes the request's session to the
    person's region, as ``deps.current_principal`` does for the API (``scope.py``)."""
    caller = signed_in_caller(request)
    if caller is None:
        raise SignInRequired()
    set_region(session, caller.region_id)
    return caller


def sign_in(request: Request, row: ApiKey) -> None:
    """A fresh session for this key: a new CSRF token and a new issue time (no fixation)."""
    session = WebSession(
        secrets.token_urlsafe(32), row.id, fingerprint(row.key_hash), time.time(), True
    )
    request.state.web_session = session
    request.state.web_caller = caller_of_key(row)


def sign_out(request: Request) -> None:
    request.state.web_session = WebSession(secrets.token_urlsafe(32), changed=True)
    request.state.web_caller = None


def save(request: Request, response: Response) -> Response:
    """Write the session cookie when it changed."""
    session = getattr(request.state, "web_session", None)
    if session is not None and session.changed:
        settings = request.app.state.settings
        response.set_cookie(
            COOKIE,
            _serializer(request).dumps(session.dump()),
            max_age=int(settings.session_hours * 3600),
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
            path="/",
        )
    return response


async def check_csrf(request: Request) -> None:
    """Every POST to a page: the form's (or htmx's header) token must be this session's."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        sent = form.get(CSRF_FIELD)
    expected = web_session(request).csrf
    if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise CsrfRefused()
