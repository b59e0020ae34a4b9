"""The console's pages and actions (a WSGI application; see frontdesk.console).

Every request passes, in this order: the peer's address (`peer_allowed`: 403 from outside the
LAN ranges), then for every page but the login page, the static files and ``/metrics`` (a
token, see frontdesk.console.metrics) a valid session (else the login page, or 401 for the
live stream, recordings and actions), then for every action (any method but GET and HEAD) a
same-origin ``Origin`` and the session's CSRF token (403 otherwise). Handlers get the request
and the session as arguments; they never see a request that failed a check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import gevent
import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import Forbidden, HTTPException, NotFound, Unauthorized
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect, send_file, send_from_directory
from werkzeug.wrappers import Request, Response

from frontdesk import inbox as messages_inbox
from frontdesk.console import host_allowed, peer_allowed
from frontdesk.console.auth import COOKIE, Auth, LoginRefused, csrf_valid, same_origin
from frontdesk.console.live import LiveBoard, LiveDesk, live_view
from frontdesk.console.metrics import Metrics
from frontdesk.console.texts import TEXTS
from frontdesk.logs import Throttle
from frontdesk.overrides import MODES, OverrideRefused, parse_until, set_override
from frontdesk.queue.callbacks import (
    MISSED_REF_LENGTH,
    CallNowRefused,
    mark_done,
    missed_patients,
    pending_callbacks,
)
from frontdesk.report import figures
from frontdesk.report.figures import Period
from frontdesk.report.text import value_text
from frontdesk.report.words import LABELS

if TYPE_CHECKING:
    from wsgiref.types import StartResponse

    from frontdesk.queue.callbacks import CallbackDesk
    from frontdesk.store import ConsoleSession
    from frontdesk.tally import Tally

log = structlog.get_logger(__name__)

STATIC = __file__.rsplit("/", 1)[0] + "/static"
SAFE_METHODS = frozenset({"GET", "HEAD"})
"""Methods that only read; any other is an action: it needs a session and its CSRF token."""
MAX_FORM_BYTES = 64 * 1024
_STRANGERS_REFUSED = (
    "console.refused_address", "console.refused_host", "console.refused_cross_site"
)
MAX_FLASHES = 1000
"""Messages kept for the next page of a session (one a session; the oldest are dropped)."""
STREAMS_FULL_RETRY = 30
"""Seconds a page beyond `live.MAX_STREAMS` is told to wait before it asks again."""


class Desk(LiveDesk, Protocol):
    """What the console reads and does on the running daemon (a `Reception` with its change
    hook, plus the callbacks it places and what it counted for /metrics)."""

    callbacks: CallbackDesk
    tally: Tally


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
        self.language = desk.config.practice.language
        self.texts = TEXTS[self.language]
        self.templates = Environment(
            loader=PackageLoader("frontdesk.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.templates.filters.update(
            clock=self._clock_time, day=self._day_time, wait=self._wait_words,
            reason=self._reason_words,
        )
        self.board = LiveBoard(desk, lambda view: self._live_html(view, csrf=""))
        self.metrics = Metrics(desk)
        self._flashes: dict[str, str] = {}
        self._refusals = {event: Throttle(60.0) for event in _STRANGERS_REFUSED}
        self.pages: dict[str, Page] = {}
        self.url_map = Map()
        self._route("/login", "login", self.login_page, methods=["GET"], public=True)
        self._route("/login", "login_post", self.login_post, methods=["POST"], public=True)
        self._route("/logout", "logout", self.logout, methods=["POST"])
        self._route("/", "home", self.home, methods=["GET"])
        self._route("/events", "events", self.events, methods=["GET"], stream=True)
        self._route("/staff/<ext>/<any(login, logout):action>", "staff", self.staff,
                    methods=["POST"])
        self._route("/override", "override", self.override, methods=["POST"])
        self._route("/callbacks", "callbacks", self.callbacks_page, methods=["GET"])
        self._route("/callbacks/my-phone", "my_phone", self.my_phone, methods=["POST"])
        self._route("/callbacks/<ref>/call", "call_now", self.call_now, methods=["POST"])
        self._route("/callbacks/<ref>/done", "callback_done", self.callback_done,
                    methods=["POST"])
        self._route("/messages", "messages", self.messages_page, methods=["GET"])
        self._route("/messages/<ref>/done", "message_done", self.message_done,
                    methods=["POST"])
        self._route("/messages/<ref>/audio", "audio", self.audio, methods=["GET"], stream=True)
        self._route("/figures", "figures", self.figures_page, methods=["GET"])
        self._route("/static/<path:name>", "static", self.static, methods=["GET"], public=True)
        # for a monitoring server: no session, its own rule (frontdesk.console.metrics)
        self._route("/metrics", "metrics", self.metrics.answer, methods=["GET"], public=True)

    def _route(self, path: str, endpoint: str, handler: Callable[..., Response], *,
               methods: list[str], public: bool = False, stream: bool = False) -> None:
        self.url_map.add(Rule(path, endpoint=endpoint, methods=methods))
        self.pages[endpoint] = Page(handler, public=public, stream=stream)

    def close(self) -> None:
        """The daemon stops: live streams end (nothing else is held)."""
        self.board.close()

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
            self._refused("console.refused_address", request)
            raise Forbidden("not from the practice's network")
        if not host_allowed(request.host, self.desk.config.console.hostnames):
            self._refused("console.refused_host", request)
            raise Forbidden("an unknown host name: use the console's address, or add the name "
                            "to [console] hostnames")
        endpoint, args = self.url_map.bind_to_environ(request.environ).match()
        page = self.pages[endpoint]
        action = request.method not in SAFE_METHODS
        if action and not same_origin(request.headers.get("Origin"), request.host):
            self._refused("console.refused_cross_site", request)
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

    def _refused(self, event: str, request: Request) -> None:
        """Log a stranger's refused request, at most once a minute for each kind: anyone on
        the network can send them as fast as they like."""
        skipped = self._refusals[event].due()
        if skipped is not None:
            log.warning(event, address=request.remote_addr, not_logged_before=skipped)

    # -- rendering ---------------------------------------------------------------------------

    def render(self, template: str, session: ConsoleSession | None = None,
               status: int = 200, **values: Any) -> Response:
        flash = self._flashes.pop(session.token_hash, None) if session is not None else None
        html = self.templates.get_template(template).render(
            t=self.texts, language=self.language, session=session,
            practice=self.desk.config.practice.name, flash=flash, **values,
        )
        return Response(html, status=status, mimetype="text/html")

    def _live_html(self, view: dict[str, Any], *, csrf: str) -> str:
        """The `#live` fragment; pushed with an empty `csrf` (the same bytes for every
        console: the script fills the page's token in)."""
        return self.templates.get_template("live.html").render(t=self.texts, v=view, csrf=csrf)

    def _back(self, session: ConsoleSession, to: str, message: str) -> Response:
        """After an action: back to the page `to`, which shows `message`."""
        self._flashes.pop(session.token_hash, None)
        self._flashes[session.token_hash] = message
        while len(self._flashes) > MAX_FLASHES:
            del self._flashes[next(iter(self._flashes))]
        return redirect(to, code=303)

    def _did(self, session: ConsoleSession, action: str, target: str | None = None,
             detail: str | None = None) -> str:
        """Store what the user did; returns what the `by` columns keep of them."""
        self.desk.store.console_action(session.user, action, target, detail,
                                       at=self.desk.clock.wall())
        return f"console:{session.user}"

    def _local(self, moment: datetime | float) -> datetime:
        if not isinstance(moment, datetime):
            moment = datetime.fromtimestamp(moment, UTC)
        return moment.astimezone(ZoneInfo(self.desk.config.practice.timezone))  # reloadable

    def _clock_time(self, moment: datetime | float) -> str:
        return f"{self._local(moment):%H:%M}"

    def _day_time(self, moment: datetime | float) -> str:
        """The time alone today, else the day too."""
        local = self._local(moment)
        if local.date() == self._local(self.desk.clock.wall()).date():
            return f"{local:%H:%M}"
        return f"{local:%d/%m %H:%M}"

    def _wait_words(self, seconds: float | None) -> str:
        if seconds is None:
            return self.texts["none_said"]
        if seconds < 60:
            return self.texts["under_a_minute"]
        return self.texts["minutes"].format(n=math.ceil(seconds / 60))

    def _reason_words(self, reason: str | None) -> str:
        if not reason:
            return ""
        return self.texts.get("reason_" + reason.replace(" ", "_"), reason)

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
        self.board.end_session(session.token_hash)
        response = redirect("/login", code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict",
                               secure=self.secure_cookie)
        return response

    def home(self, request: Request, session: ConsoleSession) -> Response:
        return self.render("home.html", session, v=live_view(self.desk), csrf=session.csrf,
                           modes=MODES, here="/",
                           server_time=round(self.desk.clock.wall().timestamp()))

    def events(self, request: Request, session: ConsoleSession) -> Response:
        """The live stream (see frontdesk.console.live)."""
        if self.board.full:
            log.warning("console.streams_full", streams=self.board.streams)
            return Response("too many consoles open", status=503,
                            headers={"Retry-After": str(STREAMS_FULL_RETRY)})
        token = request.cookies.get(COOKIE)
        body = self.board.stream(session.token_hash,
                                 lambda: self.auth.session(token) is not None)
        return Response(body, mimetype="text/event-stream", direct_passthrough=True,
                        headers={"X-Accel-Buffering": "no"})

    # -- actions -------------------------------------------------------------------------

    def staff(self, request: Request, session: ConsoleSession, ext: str,
              action: str) -> Response:
        """A desk phone in or out of the queue (as *50 / *51 and `frontdesk staff`)."""
        if ext not in self.desk.queue.board.phones:
            return self._back(session, "/", self.texts["flash_not_a_phone"].format(ext=ext))
        login = action == "login"
        by = self._did(session, f"staff_{action}", ext)
        self.desk.set_staff_login(ext, login, by=by)
        message = "flash_logged_in" if login else "flash_logged_out"
        return self._back(session, "/", self.texts[message].format(ext=ext))

    def override(self, request: Request, session: ConsoleSession) -> Response:
        """The open / lunch / closed override (as *60, the panel, `frontdesk override`)."""
        mode = request.form.get("mode", "")
        until_text = request.form.get("until", "").strip()
        now = self.desk.clock.wall()
        try:
            until = parse_until(until_text, self.desk.config.practice.timezone, now)
            set_override(self.desk.store, mode, until=until, now=now,
                         set_by=f"console:{session.user}")
        except OverrideRefused as refused:
            return self._back(session, "/", self.texts[f"override_refused_{refused.reason}"])
        self._did(session, "override", mode, until.isoformat() if until else None)
        self.desk.changes.notify()
        state = self.desk.schedule.state_at(now, self.desk.store.get_override(now=now))
        return self._back(session, "/", self.texts["flash_override_set"].format(
            state=self.texts[f"state_{state.state}"]))

    # -- callbacks -----------------------------------------------------------------------

    def callbacks_page(self, request: Request, session: ConsoleSession) -> Response:
        """The callbacks to make and the missed patients, as `frontdesk callbacks` lists
        them."""
        store, now = self.desk.store, self.desk.clock.wall()
        return self.render(
            "callbacks.html", session, csrf=session.csrf, here="/callbacks",
            requests=pending_callbacks(store),
            missed=missed_patients(store, now,
                                   missed_after=self.desk.config.queue.missed_after),
            missed_ref_length=MISSED_REF_LENGTH,
            phones=list(self.desk.queue.board.phones),
        )

    def my_phone(self, request: Request, session: ConsoleSession) -> Response:
        """The desk phone "call back now" rings, kept with the session."""
        ext = request.form.get("extension", "")
        if ext and ext not in self.desk.queue.board.phones:
            return self._back(session, "/callbacks",
                              self.texts["flash_not_a_phone"].format(ext=ext))
        self.desk.store.set_console_extension(session.token_hash, ext or None)
        self._did(session, "my_phone", ext or None)
        message = (self.texts["flash_phone_saved"].format(ext=ext) if ext
                   else self.texts["flash_phone_cleared"])
        return self._back(session, "/callbacks", message)

    def call_now(self, request: Request, session: ConsoleSession, ref: str) -> Response:
        """Ring the user's desk phone, then the patient (`CallbackDesk.call_now`)."""
        ext = session.extension
        if ext is None:
            return self._back(session, "/callbacks", self.texts["flash_choose_phone"])
        by = self._did(session, "call_now", ref, ext)
        try:
            self.desk.callbacks.call_now(ref, ext, by=by)
        except CallNowRefused as refused:
            return self._back(session, "/callbacks", self.texts[f"call_now_{refused.reason}"])
        return self._back(session, "/callbacks", self.texts["flash_calling"].format(ext=ext))

    def callback_done(self, request: Request, session: ConsoleSession, ref: str) -> Response:
        by = self._did(session, "callback_done", ref)
        if not mark_done(self.desk.store, ref, by=by, now=self.desk.clock.wall()):
            return self._back(session, "/callbacks",
                              self.texts["flash_not_found"].format(ref=ref))
        self.desk.changes.notify()
        return self._back(session, "/callbacks", self.texts["flash_done"].format(ref=ref))

    # -- messages ------------------------------------------------------------------------

    def _inbox(self) -> list[messages_inbox.InboxItem]:
        return messages_inbox.inbox(self.desk.store, self.desk.config.storage.messages)

    def messages_page(self, request: Request, session: ConsoleSession) -> Response:
        return self.render("messages.html", session, csrf=session.csrf, items=self._inbox(),
                           here="/messages")

    def message_done(self, request: Request, session: ConsoleSession, ref: str) -> Response:
        by = self._did(session, "message_done", ref)
        done = messages_inbox.mark_done(self.desk.store, self.desk.config.storage.messages,
                                        ref, by=by, at=self.desk.clock.wall())
        message = "flash_done" if done else "flash_not_found"
        return self._back(session, "/messages", self.texts[message].format(ref=ref))

    def audio(self, request: Request, session: ConsoleSession, ref: str) -> Response:
        """A message's recording, by its ref in the inbox (never a path from the URL), only
        when the file is in the messages directory; ranges for the player's seeking."""
        directory = self.desk.config.storage.messages.resolve()
        for item in self._inbox():
            if item.ref == ref and item.file is not None and not item.missing:
                path = Path(item.file).resolve()
                if path.is_relative_to(directory):
                    return send_file(path, request.environ, mimetype="audio/wav",
                                     conditional=True, max_age=None)
        raise NotFound()

    # -- figures -------------------------------------------------------------------------

    def figures_page(self, request: Request, session: ConsoleSession) -> Response:
        """Today's and this month's figures (frontdesk.report), with their definitions. The
        records are read in the store's thread; the figures are computed in the hub's pool,
        so a month of calls never holds up the calls in progress."""
        config, now = self.desk.config, self.desk.clock.wall()
        zone = ZoneInfo(config.practice.timezone)
        today = now.astimezone(zone).date()
        periods = (Period.days(today, today, zone), Period.month(today.year, today.month, zone))
        records = [figures.read(self.desk.store, period, config.report) for period in periods]
        def compute() -> list[figures.Figures]:
            return [figures.figures_of(found, period, config.report, zone, now=now)
                    for found, period in zip(records, periods, strict=True)]

        day, month = gevent.get_hub().threadpool.apply(compute)
        language = self.language
        meaning = figures.definitions(config.report, language)
        rows = [
            {"name": name, "label": LABELS[language][name], "definition": meaning[name],
             "today": value_text(name, getattr(day.total, name), language),
             "month": value_text(name, getattr(month.total, name), language)}
            for name in figures.FIGURE_NAMES
        ]
        return self.render("figures.html", session, rows=rows, here="/figures")

    def static(self, request: Request, name: str) -> Response:
        return send_from_directory(STATIC, name, request.environ, max_age=3600)

