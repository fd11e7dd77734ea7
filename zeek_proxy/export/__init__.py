"""The same detection, written for other engines: Sigma (SIEM), a Zeek policy script
(the live sensor) and Suricata rules (NIDS), all from one effective config, so that the
offline scan, the sensor and the SIEM agree."""

from __future__ import annotations

from zeek_proxy.config import Settings
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE, RuleMeta


def socks_rule(settings: Settings) -> RuleMeta | None:
    """The rule a Zeek socks.log record raises under `settings`: the port rule's SOCKS
    branch (elastic-v4 and later, when TCP is a rule transport), else with evidence the
    protocol rule, else none."""
    if settings.socks and "tcp" in settings.transports:
        return RULE
    return PROTOCOL_RULE if settings.evidence else None
