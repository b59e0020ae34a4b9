"""A fixed month of call records (November 2026, Paris), written through the Store's own
methods as the daemon writes them: the figures tests, `frontdesk report` and the HTML report
check their values against the hand-computed ones in tests/test_report_figures.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from frontdesk.store import Store

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 1, tzinfo=PARIS)
ESTIMATES = "position=1,frontdesk={said},asterisk=50,queue_length=60"


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS)


@dataclass
class Call:
    """One call as the daemon records it: its row, queue events (event, seconds after the
    start, wait, detail) and what came of it."""

    uuid: str
    number: str
    start: datetime
    reason: str
    outcome: str
    state: str = "open"
    answered_after: float | None = None
    length: float = 60.0
    queue: tuple[tuple[str, float, float | None, str | None], ...] = ()
    message: bool = False


def record(store: Store, call: Call) -> None:
    store.call_started(call.uuid, caller_number=call.number, caller_name="", destination="100",
                       started_at=call.start, schedule_state=call.state, schedule_detail="",
                       config_version="test")
    for event, after, wait, detail in call.queue:
        store.queue_event(call.uuid, event, at=call.start + timedelta(seconds=after), wait=wait,
                          detail=detail)
    answered = (None if call.answered_after is None
                else call.start + timedelta(seconds=call.answered_after))
    store.call_finished(call.uuid, ended_at=call.start + timedelta(seconds=call.length),
                        answered_at=answered, path=[], reason=call.reason, outcome=call.outcome,
                        hangup_cause="NORMAL_CLEARING",
                        message_file=f"/msg/{call.uuid}.wav" if call.message else None)


CALLS = [
    # c1: answered after 15 s, told 2 + 28 = 30 s; on the line 120 s
    Call("c1", "0611111111", at(2, 9), "speak_to_someone", "answered", answered_after=25,
         length=145, queue=(("entered", 10, 0.0, None),
                            ("announced", 12, 2.0, ESTIMATES.format(said=28)),
                            ("answered", 25, 15.0, None))),
    # c2: answered after 40 s, told 1 + 20 = 21 s; on the line 180 s
    Call("c2", "0622222222", at(2, 9, 30), "speak_to_someone", "answered", answered_after=50,
         length=230, queue=(("entered", 10, 0.0, None),
                            ("announced", 11, 1.0, ESTIMATES.format(said=20)),
                            ("answered", 50, 40.0, None))),
    # c3: hung up after 3 s (a short abandon), and called again 5 min later (c4)
    Call("c3", "06 33 33 33 33", at(2, 10), "speak_to_someone", "abandoned",
         queue=(("entered", 10, 0.0, None), ("abandoned", 13, 3.0, None))),
    # c4: hung up after 90 s; called back (missed) 600 s after
    Call("c4", "0633333333", at(2, 10, 5), "speak_to_someone", "abandoned",
         queue=(("entered", 10, 0.0, None), ("abandoned", 100, 90.0, None))),
    # c5: hidden number, booked by themselves
    Call("c5", "anonymous", at(3, 11), "appointment_new", "booked"),
    # c6: meant to book, left a request for the staff
    Call("c6", "0644444444", at(3, 11, 30), "appointment_new", "requested"),
    # c7: a message at lunch, dealt with an hour later
    Call("c7", "0655555555", at(4, 12, 30), "prescription", "message", state="lunch",
         message=True),
    # c8: a message while closed, still pending at NOW (26 days and 4 hours later)
    Call("c8", "0666666666", at(4, 20), "results", "message", state="closed", message=True),
    # c9: an emergency answered by the desk 12 s after it began (8 s in the queue); 288 s talk
    Call("c9", "0677777777", at(5, 9), "emergency", "emergency_answered", answered_after=12,
         length=300, queue=(("entered", 4, 0.0, "emergency"), ("answered", 12, 8.0, None))),
    # c10: an emergency while closed, put through to the on-call number after 30 s
    Call("c10", "0688888888", at(5, 22), "emergency", "emergency_transferred", state="closed",
         answered_after=30, length=200),
    # c11: asked to be called back; completed 1200 s after the request
    Call("c11", "0699999999", at(6, 9), "speak_to_someone", "callback",
         queue=(("entered", 10, 0.0, None), ("callback_requested", 40, 30.0, None))),
    # c12: turned away: nobody logged in, voicemail
    Call("c12", "0600000001", at(6, 9, 10), "speak_to_someone", "voicemail",
         queue=(("overflowed", 10, 0.0, "nobody_logged_in:voicemail"),)),
    # c13: the number of c1 again, 28 days later: not a repeat
    Call("c13", "0611111111", at(30, 23), "information", "information", state="closed"),
    # c14: called again (c15) the next morning, after the end of the month
    Call("c14", "0600000002", at(30, 22, 30), "information", "information", state="closed"),
    Call("c15", "0600000002", at(1, 8, month=12), "information", "information"),
    Call("c16", "0600000003", at(31, 18, month=10), "information", "information"),
]


def seed_month(store: Store) -> None:
    """Every call of CALLS with its agenda actions, callbacks and message marks."""
    for call in CALLS:
        record(store, call)
    store.agenda_action("c5", "booked", "17", at=at(3, 11, 2))
    store.agenda_action("c6", "handed_off", None, at=at(3, 11, 32))
    missed = store.callback_requested(
        "c4", number="0633333333", call_started_at=at(2, 10, 5),
        requested_at=at(2, 10, 7), extensions=["201"], reason="missed")
    store.callback_attempted(missed, at=at(2, 10, 17), result="201", state="completed")
    asked = store.callback_requested(
        "c11", number="0699999999", call_started_at=at(6, 9), requested_at=at(6, 9, 1),
        extensions=["201"])
    store.callback_attempted(asked, at=at(6, 9, 21), result="201", state="completed")
    store.message_done("c7", by="cli:anne", at=at(4, 13, 30))
