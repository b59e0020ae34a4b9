"""Who may hand the daemon a call.

FreeSWITCH's outbound socket (`socket host:port async full`) carries no password: whoever
connects to the listener could drive a call (bridge it to any number the flow dials). The
shipped dialplan therefore shows a token derived from the ESL password (`esl.socket_token`),
which `esl.OutboundServer` checks. On loopback only local processes can connect at all; when
the listener is on another address (allowed only with ``allow_remote_esl``) it must also
accept connections from FreeSWITCH's host (`esl_host`) only.
"""

from __future__ import annotations

import socket

from frontdesk.config.loader import is_loopback
from frontdesk.config.model import FreeswitchSettings


def freeswitch_peers(settings: FreeswitchSettings) -> frozenset[str] | None:
    """The addresses the outbound-socket listener accepts calls from: None (any) when it
    listens on loopback only, else the addresses `esl_host` resolves to."""
    if is_loopback(settings.listen_host):
        return None
    infos = socket.getaddrinfo(settings.esl_host, None, proto=socket.IPPROTO_TCP)
    return frozenset(str(info[4][0]) for info in infos)
