"""Sets of IP networks, tested against whole columns at once.

Logs repeat the same addresses many times, so membership is decided once per distinct
address (pandas.factorize) and broadcast back: the cost follows the number of hosts, not
the number of connections.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
import pandas as pd

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=1 << 16)
def parse_address(text: str) -> Address | None:
    """The address `text` names, or None when it names none."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class NetworkSet:
    """An immutable, ordered set of networks (order is kept for explanations)."""

    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, cidrs: Iterable[str]) -> "NetworkSet":
        """Build from CIDR strings; raises ValueError naming a bad one."""
        return cls(tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs))

    def find(self, address: str | Address) -> Network | None:
        """The first network holding `address`, or None (also for non-addresses)."""
        ip = parse_address(address) if isinstance(address, str) else address
        if ip is None:
            return None
        ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:a.b.c.d is judged as IPv4, as Elasticsearch stores it
        for net in self.networks:
            if net.version == ip.version and ip in net:
                return net
        return None

    def contains(self, addresses: pd.Series) -> np.ndarray:
        """Boolean array: is each address in one of the networks (nulls: False)."""
        codes, uniques = pd.factorize(addresses, use_na_sentinel=True)
        if len(uniques) == 0:
            return np.zeros(len(addresses), dtype=bool)
        member = np.fromiter(
            (self.find(u) is not None for u in uniques), dtype=bool, count=len(uniques)
        )
        return np.where(codes >= 0, member[codes], False)

    def __str__(self) -> str:
        return ", ".join(str(n) for n in self.networks)

    def to_list(self) -> list[str]:
        return [str(n) for n in self.networks]
