"""`python -m sandbox`: serve the sandbox until SIGTERM/SIGINT; the first line printed is its URL."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from sandbox.server import make_server


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--recorded", metavar="DIR", help="serve <DIR>/<date>.json as the HF feed")
    parser.add_argument("--papers-per-day", type=int, default=8)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    server = make_server(
        args.host,
        args.port,
        recorded_dir=args.recorded,
        papers_per_day=args.papers_per_day,
        verbose=args.verbose,
    )
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"sandbox listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
