"""What an HTTP request line says about proxy use, for Zeek's http.log and eve's http
events alike: a CONNECT (its target), a request in absolute form (its host), or
neither (the Host header)."""

from __future__ import annotations

import ipaddress
import re

from zeek_proxy.schema import CONNECT, HTTP, PROXY_REQUEST

_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_PORT = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\s:/\[\]@]+)):(?P<port>[0-9]{1,5})")
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@\s]*@)?(?:\[(?P<v6>[^\]\s]+)\]|(?P<name>[^/?#:\s]+))")


def request_kind(method: str | None, uri: str | None) -> str:
    """`http-connect`, `http-proxy-request` or `http`."""
    if method is not None and method.upper() == "CONNECT":
        return CONNECT
    if uri is not None and _ABSOLUTE.match(uri):
        return PROXY_REQUEST
    return HTTP


def connect_target(uri: str | None) -> tuple[str, int] | None:
    """The host and port a CONNECT asks for: the URI up to its first white space
    (Zeek may log `host:25 /`), as `host:port` or `[v6]:port`; None for anything else."""
    if not uri:
        return None
    match = _HOST_PORT.fullmatch(uri.split(None, 1)[0]) if uri.strip() else None
    if match is None or int(match["port"]) > 65535:
        return None
    host = match["v6"] or match["name"]
    if match["v6"]:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    return host, int(match["port"])


def request_domain(kind: str, uri: str | None, host: str | None) -> str | None:
    """The name the request is for: the CONNECT target, the absolute URI's host, or the
    Host header (without its port)."""
    if kind == CONNECT:
        target = connect_target(uri)
        return None if target is None else target[0]
    if kind == PROXY_REQUEST and uri:
        match = _AUTHORITY.match(uri)
        if match:
            return match["v6"] or match["name"] or None
    return _host_name(host)


def _host_name(host: str | None) -> str | None:
    if not host:
        return None
    if host.startswith("["):
        return host[1:].split("]", 1)[0] or None
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name.strip() or None
