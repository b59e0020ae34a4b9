"""Run a simulator by hand: ``python -m frontdesk.sim --password X --daemon 127.0.0.1:8084``."""

from __future__ import annotations

import argparse

import gevent
import structlog

from .core import Simulator
from .session import CallerScript

log = structlog.get_logger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m frontdesk.sim", description=__doc__)
    parser.add_argument("--password", required=True, help="inbound ESL password")
    parser.add_argument(
        "--daemon", default="127.0.0.1:8084", help="daemon outbound-socket host:port"
    )
    parser.add_argument("--esl-port", type=int, default=8021, help="inbound ESL port")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--time-scale", type=float, default=1.0, help="real s per simulated s")
    parser.add_argument("--heartbeat", type=float, default=20.0, help="HEARTBEAT interval (s)")
    parser.add_argument(
        "--call-every", type=float, default=0.0, help="place a scripted call every N real s"
    )
    args = parser.parse_args(argv)
    sim = Simulator(
        password=args.password,
        daemon_address=args.daemon,
        host=args.host,
        esl_port=args.esl_port,
        time_scale=args.time_scale,
        heartbeat_interval=args.heartbeat,
    )
    sim.start()
    sim.add_phone("1001", answer_after=2.0, talk_seconds=30.0)
    sim.add_phone("1002", answer_after=4.0, talk_seconds=60.0)
    sim.add_phone("1003", answer_after=None)
    sim.add_outside("0600000000", answer_after=3.0)
    log.info("sim.ready", esl_port=sim.esl_port, phones=sorted(sim.phones))
    try:
        while True:
            if args.call_every > 0:
                gevent.sleep(args.call_every)
                sim.place_call(CallerScript(keys=("1",), hangup_after=60.0))
            else:
                gevent.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
