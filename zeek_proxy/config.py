"""The effective settings of a run: one frozen value, built once, passed everywhere.

Defaults are the Elastic rule's version 3 exactly. Frozen dataclasses with tuple fields
pickle cleanly, so the same settings reach worker processes unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zeek_proxy.core.networks import NetworkSet

V3_PORTS = (1080, 3128, 8080)
V3_TRANSPORTS = ("tcp",)
V3_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
V3_NOT_INTERNET = ("10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128")


@dataclass(frozen=True)
class Settings:
    """Ports, transports and networks the rule tests; the v3 rule by default."""

    ports: tuple[int, ...] = V3_PORTS
    transports: tuple[str, ...] = V3_TRANSPORTS
    internal: NetworkSet = field(default_factory=lambda: NetworkSet.parse(V3_INTERNAL))
    not_internet: NetworkSet = field(default_factory=lambda: NetworkSet.parse(V3_NOT_INTERNET))


DEFAULT_SETTINGS = Settings()
