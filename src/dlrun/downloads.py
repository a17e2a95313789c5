"""Downloads that fail fast offline: whether a URL's host answers at all, before a library's own download
(which may wait minutes on a dead network) is tried."""

from __future__ import annotations

import socket
import urllib.parse


def unreachable(url: str, timeout: float) -> str | None:
    """None when the host of `url` accepts a connection within `timeout` seconds, else why not (one line)."""
    host = urllib.parse.urlparse(url)
    try:
        socket.create_connection(
            (host.hostname, host.port or (443 if host.scheme == "https" else 80)), timeout=timeout
        ).close()
    except OSError as exc:
        return f"cannot reach {host.hostname}: {exc.strerror or exc}"
    return None
