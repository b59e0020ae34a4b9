"""Exceptions raised by `frontdesk.esl`."""

from __future__ import annotations


class ESLError(Exception):
    """Base class of every error raised by `frontdesk.esl`."""


class FrameError(ESLError):
    """The byte stream is not valid ESL framing; the connection that read it is closed."""


class ConnectionLost(ESLError):
    """The connection went away (or was never up) while a command waited for its answer."""


class CommandTimeout(ESLError):
    """No answer arrived within the allowed time."""


class ApplicationTimeout(CommandTimeout):
    """An application FreeSWITCH runs on a call did not complete within its time limit."""


class CallGone(ESLError):
    """The channel hung up or its outbound socket closed."""


class AuthenticationFailed(ESLError):
    """FreeSWITCH refused the inbound connection (bad password or access list)."""
