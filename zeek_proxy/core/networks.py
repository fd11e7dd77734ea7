"""Sets of IP networks, tested against whole columns at once.

Dotted-quad IPv4 addresses are tested by one RE2 pattern spelling out the set's IPv4
networks (or, for very large sets, turned into 32-bit integers and masked), so the cost
does not grow with the number of distinct hosts. IPv6 and IPv4-mapped text, and short
columns whole, are decided once per distinct value by `inet_pton` and integer masks;
`ipaddress` decides only what `inet_pton` refuses, and is the reference the tests hold
every path to.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterable

import numpy as np
from zeek_proxy.lazy import pd
import pyarrow as pa
import pyarrow.compute as pc

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=1 << 16)
def parse_address(text: str) -> Address | None:
    """The address `text` names, or None when it names none."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def packed_address(text: str) -> bytes | None:
    """The address `text` names, in network byte order: `inet_pton` for the usual text,
    `ipaddress` for what it refuses (IPv6 scope ids); None when it names none."""
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, TypeError, ValueError):
        ip = parse_address(text) if isinstance(text, str) else None
        return None if ip is None else ip.packed


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
        """Boolean array: is each address in one of the networks (nulls and non-addresses: False)."""
        result = np.zeros(len(addresses), dtype=bool)
        if len(addresses) == 0:
            return result
        if len(addresses) <= _FEW:
            return self._contains_slowly(addresses)
        try:
            text = pa.array(addresses, type=pa.string(), from_pandas=True)
        except (pa.ArrowException, TypeError):
            return self._contains_slowly(addresses)
        if self.ipv4_pattern is not None:
            result |= _matches(text, f"^{self.ipv4_pattern}$")
            # Text without a colon names an address only as a dotted quad, which the
            # pattern has judged exactly; IPv6 and IPv4-mapped text is left.
            rest = pc.match_substring(text, ":").fill_null(False).to_numpy(zero_copy_only=False)
        else:
            numbers, valid = ipv4_numbers(text)
            for net in self.networks:
                if net.version == 4:
                    mask, base = int(net.netmask), int(net.network_address)
                    result |= valid & ((numbers & np.uint32(mask)) == np.uint32(base))
            rest = ~valid & ~np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if rest.any():
            result[rest] = self._contains_slowly(addresses[rest])
        return result

    def first_holding(self, addresses: pd.Series) -> np.ndarray:
        """For each address, the first network holding it as text (None: none does);
        `find` for a whole column. A short column (a run's alerts) is judged once per
        distinct value, against every network at once."""
        if len(addresses) <= _FEW:
            codes, uniques = pd.factorize(addresses, use_na_sentinel=True)
            names = np.array([None, *(self._first_name(u) for u in uniques.tolist())], dtype=object)
            return names[codes + 1]
        found = np.full(len(addresses), None, dtype=object)
        open_ = np.ones(len(addresses), dtype=bool)
        for net in self.networks:
            hit = open_ & NetworkSet((net,)).contains(addresses)
            found[hit] = str(net)
            open_ &= ~hit
        return found

    @cached_property
    def _ipv4_heads(self) -> list[list[str]] | None:
        """The IPv4 networks as the leading octets every address in them is written with
        (one head per value of an octet split by the prefix); None when too many."""
        heads = [head for net in self.networks if net.version == 4 for head in ipv4_heads(net)]
        return None if len(heads) > MAX_SPELLED else heads

    @cached_property
    def ipv4_pattern(self) -> str | None:
        """An RE2 group matching exactly the dotted quads `ipaddress` accepts inside the
        IPv4 networks; None when the set is too large to spell out."""
        if self._ipv4_heads is None:
            return None
        alternatives = [r"\.".join(head + [_OCTET] * (4 - len(head))) for head in self._ipv4_heads]
        return "(?:" + "|".join(alternatives) + ")" if alternatives else NEVER

    @cached_property
    def ipv4_prefixes(self) -> tuple[str, ...] | None:
        """Text that every dotted quad in the IPv4 networks begins with ("10." for
        10.0.0.0/8; a whole address ends with END), so that a value not beginning with
        any of them is surely outside; None for a /0 or a set too large to spell out."""
        if self._ipv4_heads is None or [] in self._ipv4_heads:
            return None
        return tuple(".".join(head) + (END if len(head) == 4 else ".") for head in self._ipv4_heads)

    def _contains_slowly(self, addresses: pd.Series) -> np.ndarray:
        """Membership decided once per distinct value (`holds`)."""
        codes, uniques = pd.factorize(addresses, use_na_sentinel=True)
        if len(uniques) == 0:
            return np.zeros(len(addresses), dtype=bool)
        member = np.fromiter((self.holds(u) for u in uniques), dtype=bool, count=len(uniques))
        return np.where(codes >= 0, member[codes], False)

    def holds(self, text: object) -> bool:
        """Whether `text` names an address in one of the networks: `contains` for one
        value, without a frame (the pre-filter asks this of a few values per block)."""
        number = _number(text)
        if number is None:
            return False
        value, version = number
        for mask, base, _ in self._masks[version]:  # a loop: any() of a generator took twice as long
            if value & mask == base:
                return True
        return False

    def _first_name(self, text: object) -> str | None:
        """The first network holding `text` (as `holds` reads it), by name."""
        number = _number(text)
        if number is None:
            return None
        value, version = number
        return next((name for mask, base, name in self._masks[version] if value & mask == base), None)

    @cached_property
    def _masks(self) -> dict[int, list[tuple[int, int, str]]]:
        """(netmask, network address) as integers, and the network's name, per IP
        version, in the order of the networks."""
        masks: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for net in self.networks:
            masks[net.version].append((int(net.netmask), int(net.network_address), str(net)))
        return masks

    def __str__(self) -> str:
        return ", ".join(str(n) for n in self.networks)

    def to_list(self) -> list[str]:
        return [str(n) for n in self.networks]


def _number(text: object) -> tuple[int, int] | None:
    """An address's text as an integer and its IP version (an IPv4-mapped IPv6 address
    as IPv4, as in `find`), or None. `inet_pton` reads the usual text, as strictly as
    `ipaddress` (no leading zeros); `ipaddress` decides what it refuses (IPv6 scope ids)."""
    packed = packed_address(text) if isinstance(text, str) else None
    if packed is None:
        return None
    value = int.from_bytes(packed, "big")
    if len(packed) == 4:
        return value, 4
    if value >> 32 == 0xFFFF:
        return value & 0xFFFFFFFF, 4
    return value, 6


#: An RE2 pattern no text matches (RE2 has no `(?!)`).
NEVER = r"\b\B"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: Networks not on an octet boundary cost one head per value of the split octet.
MAX_SPELLED = 4096
#: Columns up to this long are judged value by value (the pre-filter's small frames).
_FEW = 4096


#: Marks the end of a value in `ipv4_prefixes` (a /32, or a network split in its last octet).
END = "\x00"


def ipv4_heads(net: ipaddress.IPv4Network) -> list[list[str]]:
    """The leading octets (as text) of the addresses in `net`: one head for a network on
    an octet boundary, one per value of the split octet otherwise; [[]] for a /0."""
    whole, bits = divmod(net.prefixlen, 8)
    octets = str(net.network_address).split(".")
    if not bits:
        return [octets[:whole]]
    first = int(octets[whole])
    return [octets[:whole] + [str(v)] for v in range(first, first + (1 << (8 - bits)))]


def _matches(text: pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(text, pattern).fill_null(False).to_numpy(zero_copy_only=False)


def ipv4_numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each string as a 32-bit IPv4 number, and whether it is a dotted quad at all.

    Only the strict form counts (four decimal parts of 1-3 digits, each <= 255, no leading
    zero, as `ipaddress` requires); anything
    else is left to `ipaddress`, so the result never differs from it for valid addresses.
    """
    count = len(text)
    numbers = np.zeros(count, dtype=np.uint32)
    valid = np.zeros(count, dtype=bool)
    parts = pc.split_pattern(text, ".")
    four = np.flatnonzero(pc.equal(pc.list_value_length(parts), 4).fill_null(False).to_numpy(zero_copy_only=False))
    if len(four) == 0:
        return numbers, valid
    flat = pc.list_flatten(parts.take(pa.array(four)))
    length = pc.utf8_length(flat)
    digits = pc.and_(pc.and_(pc.utf8_is_digit(flat), pc.less_equal(length, 3)),
                     pc.invert(pc.and_(pc.starts_with(flat, "0"), pc.greater(length, 1))))
    octets = pc.cast(pc.if_else(digits, flat, "0"), pa.uint32()).to_numpy().reshape(-1, 4)
    good = digits.to_numpy(zero_copy_only=False).reshape(-1, 4).all(axis=1) & (octets <= 255).all(axis=1)
    value = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
    numbers[four] = value.astype(np.uint32)
    valid[four] = good
    return numbers, valid
