"""The console's pages and actions (a WSGI application; see frontdesk.console).

Every request passes, in this order: the peer's address (`peer_allowed`: 403 from outside the
LAN ranges), then for every page but the login page and the static files a valid session
(else the login page, or 401 for the live stream, recordings and actions), then for every
action (any method but GET and HEAD) a same-origin ``Origin`` and the session's CSRF token
(403 otherwise). Handlers get the request
and the session as arguments; they never see a request that failed a check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import Forbidden, HTTPException, Unauthorized
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect, send_from_directory
from werkzeug.wrappers import Request, Response

from frontdesk.console import peer_allowed
from frontdesk.console.auth import COOKIE, Auth, LoginRefused, csrf_valid, same_origin
from frontdesk.console.texts import TEXTS

if TYPE_CHECKING:
    from wsgiref.types import StartResponse

    from frontdesk.clock import Clock
    from frontdesk.config.model import Config
    from frontdesk.queue.callbacks import CallbackDesk
    from frontdesk.store import ConsoleSession, Store

log = structlog.get_logger(__name__)

STATIC = __file__.rsplit("/", 1)[0] + "/static"
SAFE_METHODS = frozenset({"GET", "HEAD"})
"""Methods that only read; any other is an action: it needs a session and its CSRF token."""
MAX_FORM_BYTES = 64 * 1024


class Desk(Protocol):
    """What the console reads and does on the running daemon (a `Reception`, plus the
    callbacks it places)."""

    config: Config
    store: Store
    clock: Clock
    callbacks: CallbackDesk

    def set_staff_login(self, extension: str, login: bool, *, by: str) -> None: ...


@dataclass(frozen=True)
class Page:
    """A route's handler and what it needs: `public` pages need no session; `stream`
    answers 401 instead of the login page (scripts and the audio player call it)."""

    handler: Callable[..., Response]
    public: bool = False
    stream: bool = False


class ConsoleApp:
    """The WSGI application of one console."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        settings = desk.config.console
        self.auth = Auth(desk.store, desk.clock, session_hours=settings.session_hours)
        self.secure_cookie = settings.https
        self.templates = Environment(
            loader=PackageLoader("frontdesk.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.pages: dict[str, Page] = {}
        self.url_map = Map()
        self._route("/login", "login", self.login_page, methods=["GET"], public=True)
        self._route("/login", "login_post", self.login_post, methods=["POST"], public=True)
        self._route("/logout", "logout", self.logout, methods=["POST"])
        self._route("/", "home", self.home, methods=["GET"])
        self._route("/static/<path:name>", "static", self.static, methods=["GET"], public=True)

    def _route(self, path: str, endpoint: str, handler: Callable[..., Response], *,
               methods: list[str], public: bool = False, stream: bool = False) -> None:
        self.url_map.add(Rule(path, endpoint=endpoint, methods=methods))
        self.pages[endpoint] = Page(handler, public=public, stream=stream)

    def close(self) -> None:
        """The daemon stops: live streams end (nothing else is held)."""

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_form_memory_size = MAX_FORM_BYTES
        request.max_content_length = MAX_FORM_BYTES
        try:
            response = self.dispatch(request)
        except HTTPException as error:
            response = error.get_response(environ)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; media-src 'self'; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
        )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if not peer_allowed(request.remote_addr or "", self.desk.config):
            log.warning("console.refused_address", address=request.remote_addr)
            raise Forbidden("not from the practice's network")
        endpoint, args = self.url_map.bind_to_environ(request.environ).match()
        page = self.pages[endpoint]
        action = request.method not in SAFE_METHODS
        if action and not same_origin(request.headers.get("Origin"),
                                                         request.host):
            log.warning("console.refused_cross_site", address=request.remote_addr)
            raise Forbidden("a request from another site")
        if page.public:
            return page.handler(request, **args)
        session = self.auth.session(request.cookies.get(COOKIE))
        if session is None:
            if page.stream or action:
                raise Unauthorized("log in first")
            return redirect("/login")
        if action:
            sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
            if not csrf_valid(session, sent):
                log.warning("console.refused_csrf", user=session.user)
                raise Forbidden("this form is out of date: reload the page")
        return page.handler(request, session, **args)

    # -- rendering ---------------------------------------------------------------------------

    def render(self, template: str, session: ConsoleSession | None = None,
               status: int = 200, **values: Any) -> Response:
        language = self.desk.config.practice.language
        html = self.templates.get_template(template).render(
            t=TEXTS[language], language=language, session=session,
            practice=self.desk.config.practice.name, **values,
        )
        return Response(html, status=status, mimetype="text/html")

    # -- pages -------------------------------------------------------------------------------

    def login_page(self, request: Request, error: str | None = None,
                   status: int = 200) -> Response:
        return self.render("login.html", error=error, status=status)

    def login_post(self, request: Request) -> Response:
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        try:
            token, session = self.auth.login(name, password, request.remote_addr or "")
        except LoginRefused as refused:
            texts = TEXTS[self.desk.config.practice.language]
            error = (texts["login_locked"].format(seconds=round(refused.retry_after))
                     if refused.retry_after else texts["login_wrong"])
            return self.login_page(request, error=error, status=401)
        response = redirect("/", code=303)
        response.set_cookie(
            COOKIE, token, max_age=int((session.expires_at - session.created_at).total_seconds()),
            httponly=True, samesite="Strict", secure=self.secure_cookie, path="/",
        )
        return response

    def logout(self, request: Request, session: ConsoleSession) -> Response:
        self.auth.logout(session)
        response = redirect("/login", code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict",
                               secure=self.secure_cookie)
        return response

    def home(self, request: Request, session: ConsoleSession) -> Response:
        return self.render("home.html", session)

    def static(self, request: Request, name: str) -> Response:
        return send_from_directory(STATIC, name, request.environ, max_age=3600)

