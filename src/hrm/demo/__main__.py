"""Serve the demo page: pick a puzzle in the browser, press solve, watch the segments.

    python -m src.hrm.demo [CHECKPOINT...] [--host 127.0.0.1] [--port 8000] [--device auto]

Without checkpoints it serves the shipped ones (checkpoints/hrm-act-sudoku, -boardpath and -maze), one per
task. It listens on 127.0.0.1 (this machine only) unless --host says otherwise, and warns then.
Bad input (a port in use or a host it cannot listen on included): one line on stderr, exit 2.
"""

import argparse
import ipaddress
import socket
import sys

import uvicorn

from ..cli_types import OneLineParser, pick_device
from .app import create_app
from .models import SHIPPED, load_models


def parse_args(argv=None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m src.hrm.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="*",
                        help="checkpoints to serve, one per task (default: the shipped three)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available")
    return parser.parse_args(argv)


def is_loopback(host: str) -> bool:
    """The host is reachable from this machine only: localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, as uvicorn binds one; OSError (one line) for a port in use or a host this
    machine cannot listen on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError as error:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def serve(app, sock: socket.socket) -> None:
    """Run the app on a bound socket until interrupted."""
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if not 0 <= args.port <= 65535:
            raise ValueError(f"--port must be 0 to 65535, got {args.port}")
        models = load_models(args.checkpoints or SHIPPED, pick_device(args.device))
        # Bound before "serving" is printed: a port in use is one line and exit 2, not uvicorn's error later.
        sock = listen(args.host, args.port)
    except (ValueError, OSError) as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"demo: warning: listening on {args.host}: anyone who can reach this machine on port {args.port} can"
              " use the demo and its CPU; there is no login", file=sys.stderr)
    print(f"demo: serving {', '.join(m.name for m in models.values())} on http://{args.host}:{args.port}/",
          file=sys.stderr)
    with sock:
        serve(create_app(models), sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
