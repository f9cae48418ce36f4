"""Addresses to listen on, for the chief and for the desktop app: parsing, probing, naming.

Both fail before starting anything on an address this machine cannot listen
on, and both tell others a name that reaches them when they listen on every
interface. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import ipaddress
import socket

from .errors import SearchError

EVERY_INTERFACE = ("", "0.0.0.0", "::")


def parse_address(address: str) -> tuple[str, int]:
    """``("host", port)`` from ``"host:port"``."""
    host, _, port = str(address).rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise SearchError(f"{address!r} is not an address. Use HOST:PORT, e.g. 127.0.0.1:8000 or 10.0.0.5:8000.")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe_port(host: str, port: int = 0) -> int:
    """Bind ``host:port`` and let it go: the port (a free one for 0); OSError if it cannot be had."""
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, port))
        return probe.getsockname()[1]


def reachable_name(host: str) -> str:
    """The name others reach ``host`` by: this machine's name when it is every interface."""
    return socket.gethostname() if host in EVERY_INTERFACE else host
