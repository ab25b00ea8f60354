"""Runs localstripe (PyPI, installed by tests/sdk/setup into
.cache/localstripe-venv) on 127.0.0.1 and a free port, and prints
`listening <port>` once it accepts connections.

localstripe's own `start()` binds every interface (`::`) on a fixed port and
pickles its store to /tmp/localstripe.pickle after every change; here it
binds only the loopback address, starts empty and keeps its store in memory,
so two runs on one machine never share state.

    .cache/localstripe-venv/bin/python localstripe_server.py
"""

import asyncio
import socket
import sys

from aiohttp import web
from localstripe import resources, server


def main():
    resources.Store.dump_to_disk = lambda self: None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    # Listening before the announcement: a client that connects before
    # aiohttp's loop runs waits in the backlog instead of being refused.
    sock.listen(128)
    port = sock.getsockname()[1]

    async def announce(app):
        print(f"listening {port}", flush=True)

    server.app.on_startup.append(announce)
    web.run_app(server.app, sock=sock, print=None, access_log=None, handle_signals=True)


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    sys.exit(main())
