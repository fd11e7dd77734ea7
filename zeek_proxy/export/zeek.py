"""A Zeek policy script (and zkg package) for the same detection, so the sensor raises
`ProxyPort::Internet_Activity` notices live where the offline scan would alert.

The script checks each connection when Zeek forgets it (`connection_state_remove`, the
event conn.log is written from, so refused and half-open TCP connections count too, as
they do for the rule). Allow entries are compiled in as a `&redef` table and can also be
read at run time from an Input-framework file (`ProxyPort::allow_file`, re-read when it
changes), so operators change them without redeploying. Entries that have expired are
kept: they match only connections that started before their expiry, so they are inert on
live traffic and still right when old pcaps are replayed. Ports are `port` literals for
each transport Zeek can name (tcp, udp, icmp); other transports are left out.

When the profile alerts on Zeek socks.log records (elastic-v4 and later) or evidence is
asked for, the script also raises `ProxyPort::Protocol_Activity` on proxy protocols
spoken to the Internet on any port: SOCKS (`socks_request`, and at the end of a
connection Zeek's SOCKS analyzer confirmed without a request, which socks.log also
records), and with evidence HTTP CONNECT and absolute-form requests (`http_request`,
judged on the method and unescaped URI that http.log holds). Those notices come as the
request is seen. As the offline scan gives a connection one alert, a connection gets
one of the two notices: one the port rule covers gets its `Internet_Activity` notice
when it ends, never a protocol one.
"""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

from zeek_proxy import __version__
from zeek_proxy.config import Settings
from zeek_proxy.core.allowlist import AllowEntry
from zeek_proxy.core.networks import NetworkSet
from zeek_proxy.core.rule import PROTOCOL_RULE, RULE
from zeek_proxy.emit.notice import NOTE, NOTES, SUPPRESS_FOR
from zeek_proxy.export import socks_rule

ZEEK_TRANSPORTS = ("tcp", "udp", "icmp")  # the transport_proto values a port literal names
MODULE, NOTE_NAME = NOTE.split("::")
PROTOCOL_NOTE = NOTES[PROTOCOL_RULE.id]  # the note `scan --to notice` writes for the protocol rule
PROTOCOL_NOTE_NAME = PROTOCOL_NOTE.split("::")[1]

_BODY = """\
@load base/frameworks/notice
@load base/frameworks/input
%(loads)s
module %(module)s;

export {
	redef enum Notice::Type += {
		## An internal host connected to a proxy port on an Internet address.
		%(note)s,%(protocol_note)s
	};

	## The Elastic rule this script implements; the notices' $sub.
	const rule_id = "%(rule_id)s" &redef;
	## Transports the rule covers.
	const transports: set[transport_proto] = %(transports)s &redef;
	## Responder ports the rule covers.
	const proxy_ports: set[port] = %(ports)s &redef;
	## Originators the rule covers.
	const internal_nets: set[subnet] = %(internal)s &redef;
	## Responders that are not the Internet.
	const not_internet_nets: set[subnet] = %(not_internet)s &redef;
	## How long notices for one originator, responder and port are suppressed.
	const suppress_for = %(suppress)s &redef;

	## An allow entry: it matches a connection when every field it sets matches.
	type AllowEntry: record {
		name: string &optional;
		source: set[subnet] &optional;
		destination: set[subnet] &optional;
		## Responder ports.
		ports: set[port] &optional;
		## Originator ports.
		source_ports: set[port] &optional;
		reason: string &optional;
		## Applies to connections that started before this time.
		expires: time &optional;
	};

	## The configured allow entries, by name.
	const allow_entries: table[string] of AllowEntry = %(allow)s &redef;

	## An Input-framework file of further allow entries, re-read when it changes
	## (columns name, source, destination, ports, source_ports, reason, expires;
	## "-" for unset, "," between set members, expires in epoch seconds).
	const allow_file = "" &redef;

	## The entries read from allow_file, by name.
	global allow_from_file: table[string] of AllowEntry = table();

	## The name of the first allow entry matching c, or "" when none does.
	global allowed_by: function(c: connection): string;
%(protocol_export)s}

type AllowKey: record {
	name: string;
};

function entry_matches(e: AllowEntry, c: connection): bool
	{
	if ( e?$source && c$id$orig_h !in e$source )
		return F;
	if ( e?$destination && c$id$resp_h !in e$destination )
		return F;
	if ( e?$ports && c$id$resp_p !in e$ports )
		return F;
	if ( e?$source_ports && c$id$orig_p !in e$source_ports )
		return F;
	if ( e?$expires && c$start_time >= e$expires )
		return F;
	return T;
	}

function allowed_by(c: connection): string
	{
	for ( name, e in allow_entries )
		if ( entry_matches(e, c) )
			return name;
	for ( name, e in allow_from_file )
		if ( entry_matches(e, c) )
			return name;
	return "";
	}

event zeek_init()
	{
	if ( allow_file == "" )
		return;
	Input::add_table([$source=allow_file, $name="proxyport_allow", $idx=AllowKey,
	                  $val=AllowEntry, $destination=allow_from_file,
	                  $mode=Input::REREAD]);
	}

event connection_state_remove(c: connection)
	{
	local id = c$id;
	if ( get_port_transport_proto(id$resp_p) !in transports || id$resp_p !in proxy_ports )
		return;
	if ( id$orig_h !in internal_nets || id$resp_h in not_internet_nets )
		return;
	if ( allowed_by(c) != "" )
		return;
	NOTICE([$note=%(note)s,
	        $msg=fmt("%(rule_name)s: %%s (internal) to %%s:%%s (Internet, proxy port)",
	                 id$orig_h, id$resp_h, id$resp_p),
	        $sub=rule_id,
	        $conn=c,
	        $identifier=cat(id$orig_h, id$resp_h, id$resp_p),
	        $suppress_for=suppress_for]);
	}
%(protocol_body)s"""

_PROTOCOL_LOADS = """\
@load base/protocols/socks
@load base/protocols/http
"""

_PROTOCOL_NOTE = """
		## An internal host spoke a proxy protocol (SOCKS, HTTP CONNECT, an
		## absolute-form request) to an Internet address, on any port.
		%(protocol_note)s,"""

_PROTOCOL_EXPORT = """
	## The rule of the SOCKS notices (their $sub), and its name.
	const socks_rule_id = "%(socks_rule_id)s" &redef;
	const socks_rule_name = "%(socks_rule_name)s" &redef;
	## Whether SOCKS use to the Internet raises Protocol_Activity notices.
	const notice_socks = %(notice_socks)s &redef;

	## The rule of the HTTP CONNECT and proxy-request notices (their $sub), and its name.
	const protocol_rule_id = "%(protocol_rule_id)s" &redef;
	const protocol_rule_name = "%(protocol_rule_name)s" &redef;
	## Whether HTTP CONNECT and absolute-form requests to the Internet raise
	## Protocol_Activity notices (`zeek-proxy export zeek --evidence` turns it on).
	const notice_http_proxy = %(notice_http_proxy)s &redef;
	## A request URI in absolute form, as a client sends it to a proxy.
	const absolute_uri = /^[A-Za-z][A-Za-z0-9+.-]*:\\/\\// &redef;
"""

_PROTOCOL_BODY = """
redef record connection += {
	## Set when the connection raised a Protocol_Activity notice.
	proxyport_protocol_noticed: bool &default=F;
};

## Whether the port rule covers c's transport and responder port: such a connection
## gets its Internet_Activity notice (if any) when it ends.
function port_rule_covers(c: connection): bool
	{
	return get_port_transport_proto(c$id$resp_p) in transports && c$id$resp_p in proxy_ports;
	}

## At most one Protocol_Activity notice a connection, as the offline scan raises one
## alert: from an internal originator to the Internet, not allowed, and not covered by
## the port rule.
function protocol_notice(c: connection, rule: string, name: string, what: string)
	{
	local id = c$id;
	if ( c$proxyport_protocol_noticed )
		return;
	if ( id$orig_h !in internal_nets || id$resp_h in not_internet_nets )
		return;
	if ( port_rule_covers(c) || allowed_by(c) != "" )
		return;
	c$proxyport_protocol_noticed = T;
	NOTICE([$note=%(protocol_note)s,
	        $msg=fmt("%%s: %%s (internal) to %%s:%%s (Internet, %%s)",
	                 name, id$orig_h, id$resp_h, id$resp_p, what),
	        $sub=rule,
	        $conn=c,
	        $identifier=cat(id$orig_h, id$resp_h, id$resp_p),
	        $suppress_for=suppress_for]);
	}

function socks_target(sa: SOCKS::Address): string
	{
	if ( sa?$name )
		return sa$name;
	if ( sa?$host )
		return cat(sa$host);
	return "?";
	}

event socks_request(c: connection, version: count, request_type: count, sa: SOCKS::Address,
                    p: port, user: string)
	{
	if ( notice_socks )
		protocol_notice(c, socks_rule_id, socks_rule_name,
		                fmt("SOCKS%%d for %%s:%%d", version, socks_target(sa), port_to_count(p)));
	}

event connection_state_remove(c: connection)
	{
	# socks.log also holds connections the SOCKS analyzer confirmed without a request
	# (a failed login, say): Zeek writes their record as they end.
	if ( notice_socks && c?$socks && "SOCKS" in c$service )
		protocol_notice(c, socks_rule_id, socks_rule_name, fmt("SOCKS%%d", c$socks$version));
	}

event http_request(c: connection, method: string, original_URI: string, unescaped_URI: string,
                   version: string)
	{
	if ( ! notice_http_proxy )
		return;
	# http.log's method and uri (the unescaped URI), judged as the offline scan does.
	if ( to_upper(method) == "CONNECT" )
		protocol_notice(c, protocol_rule_id, protocol_rule_name,
		                fmt("HTTP CONNECT for %%s", sub_bytes(unescaped_URI, 1, 100)));
	else if ( absolute_uri in unescaped_URI )
		protocol_notice(c, protocol_rule_id, protocol_rule_name,
		                fmt("proxy request for %%s", sub_bytes(unescaped_URI, 1, 100)));
	}
"""


def _string(text: str) -> str:
    """A Zeek string literal: printable ASCII as is, everything else as \\xNN bytes."""
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\' else f"\\x{b:02x}"
                         for b in text.encode("utf-8")) + '"'


def _comment(text: str) -> str:
    """`text` safe inside a one-line comment."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _subnet(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return str(net) if net.version == 4 else f"[{net.network_address}]/{net.prefixlen}"


def _subnets(networks: NetworkSet) -> list[str]:
    return [_subnet(n) for n in networks.networks]


def _ports(ports: tuple[int, ...], transports: list[str]) -> list[str]:
    return [f"{p}/{t}" for p in dict.fromkeys(ports) for t in transports]


def _set(items: list[str], constructor: bool = False) -> str:
    """A set: `{ a, b }` after a typed declaration, `set(a, b)` inside a record."""
    if constructor or not items:
        return f"set({', '.join(items)})"
    return "{ " + ", ".join(items) + " }"


def _entry(entry: AllowEntry, transports: list[str]) -> str:
    fields = [f"$name={_string(entry.name)}"]
    for key in ("source", "destination"):
        value = getattr(entry, key)
        if value is not None:
            fields.append(f"${key}={_set(_subnets(value), True)}")
    for key in ("ports", "source_ports"):
        value = getattr(entry, key)
        if value is not None:
            fields.append(f"${key}={_set(_ports(value, transports), True)}")
    if entry.reason:
        fields.append(f"$reason={_string(entry.reason)}")
    if entry.expires is not None:
        fields.append(f"$expires=double_to_time({entry.expires_at.timestamp():.1f})")
    expiry = f"  # expires {entry.expires.isoformat()} (UTC)" if entry.expires else ""
    return (f"\t\t[{_string(entry.name)}] = AllowEntry({', '.join(fields)}),{expiry}")


def to_zeek_script(settings: Settings) -> str:
    """The Zeek policy script (module ProxyPort) for `settings`."""
    transports = [t for t in dict.fromkeys(settings.transports) if t in ZEEK_TRANSPORTS]
    skipped = [t for t in dict.fromkeys(settings.transports) if t not in ZEEK_TRANSPORTS]
    allow = ("{\n" + "\n".join(_entry(e, transports) for e in settings.allow) + "\n\t}"
             if settings.allow else "table()")
    header = [
        f"{RULE.name} (Elastic rule {RULE.id}, version {RULE.version}),",
        f"{RULE.technique_id} {RULE.technique_name} / {RULE.tactic_id} {RULE.tactic_name}.",
        f"Generated by zeek-proxy {__version__} from profile {_comment(settings.profile)}; "
        + "regenerate with `zeek-proxy export zeek` rather than editing.",
        "",
        f"Ports: {', '.join(_ports(settings.ports, transports)) or 'none'}",
        f"Internal: {', '.join(_subnets(settings.internal)) or 'none'}",
        f"Not Internet: {', '.join(_subnets(settings.not_internet)) or 'none'}",
    ]
    if skipped:
        header.append(f"Transports Zeek cannot name, left out: {_comment(', '.join(skipped))}")
    header.append(f"Allow entries: {', '.join(_comment(e.name) for e in settings.allow) or 'none'}"
                  + ("; expired ones are kept, they match only connections from before their expiry"
                     if any(e.expires for e in settings.allow) else ""))
    socks = socks_rule(settings)
    protocol = socks is not None or settings.evidence
    if protocol:
        header.append("Proxy protocols on any port (Protocol_Activity): "
                      + ", ".join((["SOCKS"] if socks else []) + (["HTTP CONNECT", "absolute-form requests"]
                                                                  if settings.evidence else [])))
    parts = {
        "socks_rule_id": (socks or PROTOCOL_RULE).id, "socks_rule_name": (socks or PROTOCOL_RULE).name,
        "notice_socks": "T" if socks else "F", "protocol_rule_id": PROTOCOL_RULE.id,
        "protocol_rule_name": PROTOCOL_RULE.name, "notice_http_proxy": "T" if settings.evidence else "F",
        "protocol_note": PROTOCOL_NOTE_NAME,
    }
    body = _BODY % {
        "loads": _PROTOCOL_LOADS if protocol else "",
        "protocol_note": _PROTOCOL_NOTE % parts if protocol else "",
        "protocol_export": _PROTOCOL_EXPORT % parts if protocol else "",
        "protocol_body": _PROTOCOL_BODY % parts if protocol else "",
        "module": MODULE, "note": NOTE_NAME, "rule_id": RULE.id, "rule_name": RULE.name,
        "transports": _set(transports), "ports": _set(_ports(settings.ports, transports)),
        "internal": _set(_subnets(settings.internal)),
        "not_internet": _set(_subnets(settings.not_internet)),
        "suppress": f"{SUPPRESS_FOR / 3600:g} hr" if SUPPRESS_FOR % 3600 == 0 else f"{SUPPRESS_FOR:g} secs",
        "allow": allow,
    }
    return "".join(f"##! {line}".rstrip() + "\n" for line in header) + "\n" + body


_ALLOW_EXAMPLE = """\
# Allow entries for ProxyPort (zeek-proxy), read with the Zeek Input framework.
# Tab-separated; "-" leaves a field unset, "," separates set members, ports carry their
# transport (8080/tcp), expires is epoch seconds (UTC) and the entry applies to
# connections that started before it. Lines starting with # are ignored.
# These examples name documentation networks (RFC 5737), so they allow nothing real.
#fields	name	source	destination	ports	source_ports	reason	expires
example-proxy	-	192.0.2.10/32	3128/tcp,8080/tcp	-	the sanctioned upstream proxy	-
example-nat	198.51.100.5/32	-	-	80/tcp,443/tcp	NATed web server answering clients on high ports	-
example-trial	-	203.0.113.0/24	-	-	vendor trial until 2030	1893456000
"""

_README = """\
# zeek-proxy: {rule} (live)

A Zeek package raising `{note}` notices (notice.log) for the Elastic rule
"{rule}" (id {rule_id}, version {version}), generated by zeek-proxy {zp_version} from
profile `{profile}`. It holds the same ports, networks and allow entries as the offline
scan; regenerate it with `zeek-proxy export zeek --package DIR` when the config changes.
{protocol}
## Install with zkg

zkg installs packages from git repositories, so commit the directory first:

    git -C {path} init -q && git -C {path} add . && git -C {path} commit -qm "zeek-proxy policy"
    zkg install {path}
    # then add `@load packages` to local.zeek if it is not there, and deploy:
    zeekctl deploy

## Security Onion

Copy `scripts/` into the custom Zeek policy folder on the manager:

    sudo mkdir -p /opt/so/saltstack/local/salt/zeek/policy/custom/zeek-proxy
    sudo cp scripts/*.zeek /opt/so/saltstack/local/salt/zeek/policy/custom/zeek-proxy/

load it from `local.zeek` (`@load custom/zeek-proxy`), apply the state to the sensors
(`sudo salt '*' state.highstate`) and restart Zeek (`sudo so-zeek-restart`).
Notices land in notice.log and reach Elasticsearch with the other Zeek logs.

## Allow entries without redeploying

The configured entries are compiled into `scripts/main.zeek`. More can be read at run
time from a tab-separated file (see `allowlist.example.tsv`), re-read whenever it
changes. Point the script at it in local.zeek, with a path the Zeek process can read
(on Security Onion, Zeek runs in a container):

    redef ProxyPort::allow_file = "/opt/zeek/share/zeek/site/zeek-proxy-allowlist.tsv";

Other knobs (`ProxyPort::proxy_ports`, `ProxyPort::internal_nets`,
`ProxyPort::not_internet_nets`, `ProxyPort::suppress_for`, `ProxyPort::allow_entries`)
can be changed with `redef` too.
"""


def write_package(settings: Settings, directory: str | Path) -> list[Path]:
    """Write a zkg package for `settings` into `directory`; the paths written."""
    root = Path(directory)
    (root / "scripts").mkdir(parents=True, exist_ok=True)
    socks = socks_rule(settings)
    spoken = (["SOCKS"] if socks else []) + (["HTTP CONNECT", "absolute-form requests (GET http://...)"]
                                              if settings.evidence else [])
    protocol = "\n" + textwrap.fill(
        f"It also raises `{PROTOCOL_NOTE}` notices, as the request is seen, for proxy protocols "
        f"spoken from an internal host to the Internet on any port: {', '.join(spoken)}. Their "
        f"`$sub` names the rule ({PROTOCOL_RULE.id} is {PROTOCOL_RULE.name}). A connection gets "
        f"one notice: one on a proxy port gets its `{NOTE}` notice when it ends. "
        "`ProxyPort::notice_socks` and `ProxyPort::notice_http_proxy` turn the two kinds on "
        "and off.", 88) + "\n" if spoken else ""
    files = {
        "zkg.meta": (
            "[package]\n"
            f"description = {RULE.name}: Zeek notices for internal hosts reaching proxy "
            f"ports on the Internet (Elastic rule {RULE.id} v{RULE.version})"
            + (f" and proxy protocols ({', '.join(spoken[:2])}) on any port" if spoken else "")
            + ", from zeek-proxy.\n"
            "tags = zeek scripting, detection, proxy, notice, security onion\n"
            "script_dir = scripts\n"
            "# zkg versions packages by git tag; this records the generator's version only.\n"
            f"version = {__version__}\n"
        ),
        "scripts/__load__.zeek": "@load ./main\n",
        "scripts/main.zeek": to_zeek_script(settings),
        "allowlist.example.tsv": _ALLOW_EXAMPLE,
        "README": _README.format(rule=RULE.name, note=NOTE, rule_id=RULE.id, version=RULE.version,
                                 zp_version=__version__, profile=_comment(settings.profile),
                                 path=root.resolve(), protocol=protocol),
    }
    written = []
    for name, text in files.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
