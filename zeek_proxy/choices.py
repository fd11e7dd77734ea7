"""What the command line offers, as plain names and numbers.

Kept free of pandas, numpy and pyarrow, which take half a second to import, so that
`--help`, `--version` and a usage error answer at once. The modules that implement each
choice hold the real tables (formats, emitters, profiles); tests check both agree.
"""

from __future__ import annotations

FORMATS = ("auto", "zeek", "suricata")
OUTPUTS = ("ecs", "notice", "notice-json", "csv")
PROFILES = ("elastic-v2", "elastic-v3", "elastic-v4", "elastic-v6", "strict")
EVIDENCE_KINDS = ("socks", "http-connect", "http-proxy-request", "tls", "http")
MAX_RECORD = 1 << 20  # default cap on one record (line); longer ones are malformed
DEFAULT_GROUP_BY = ("source.ip", "destination.ip", "destination.port")  # suppression's
DEFAULT_HISTORY = 7 * 86400  # how far back new terms look, in seconds
