"""The detection core: pure functions from ECS frames to alert frames.

The core knows ECS columns and `Settings`, nothing about log formats or outputs.
"""

from zeek_proxy.core.allowlist import AllowEntry, suppressing_entry
from zeek_proxy.core.alerts import collapse, connection_keys, event_id, finalize
from zeek_proxy.core.community_id import community_id, fill_community_id
from zeek_proxy.core.new_terms import NewTerms, new_terms
from zeek_proxy.core.suppression import Suppression, suppress
from zeek_proxy.core.evidence import CONTEXT, PORT, PROTOCOL, join_tunnels, protocol_match, proxy_tunnels
from zeek_proxy.core.networks import NetworkSet
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE, RULES, Endpoints, RuleMeta, match, matches, may_match, select

__all__ = [
    "PROTOCOL_RULE", "RULE", "RULES", "AllowEntry", "Endpoints", "NetworkSet", "RuleMeta", "collapse", "community_id",
    "connection_keys", "event_id", "fill_community_id", "finalize", "match", "matches", "may_match", "select",
    "suppressing_entry", "CONTEXT", "PORT", "PROTOCOL", "join_tunnels", "protocol_match", "proxy_tunnels",
    "NewTerms", "Suppression", "new_terms", "suppress",
]
