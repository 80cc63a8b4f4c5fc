# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small, exact interpreter of the netfilter state render() produces, for tests without a kernel.

It answers "what would KUBENET-FORWARD do with the first packet of this connection?" by walking
the rendered rule text with iptables and ipset semantics (calls, gotos, RETURN, the packet mark,
longest-prefix hash:net lookups with nomatch). It reads only what the renderer writes today:
every token it does not understand raises NetfilterModelError, and the whole table is read
before the first packet, so a renderer change this model cannot follow fails the tests instead
of being quietly misread. Standard library only.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from functools import lru_cache

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming

DENY = "deny"
PASS = "pass"
PACKET_PROTOCOLS = ("TCP", "UDP", "SCTP")
RULE_PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "ipv6-icmp")
PORT_PROTOCOLS = ("tcp", "udp", "sctp")
CT_STATES = ("INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED", "SNAT", "DNAT")
REJECT_TYPES = {
    4: ("icmp-net-unreachable", "icmp-host-unreachable", "icmp-port-unreachable", "icmp-proto-unreachable",
        "icmp-net-prohibited", "icmp-host-prohibited", "icmp-admin-prohibited", "tcp-reset"),
    6: ("icmp6-no-route", "icmp6-adm-prohibited", "icmp6-addr-unreachable", "icmp6-port-unreachable",
        "icmp6-policy-fail", "icmp6-reject-route", "tcp-reset"),
}
MULTIPORT_MAX = 15  # xt_multiport: a range counts as two
MAX_COMMENT = 255
MASK32 = 0xFFFFFFFF
_LIMIT_RATE = re.compile(r"^[0-9]+/(second|sec|s|minute|min|m|hour|h|day|d)$")
# Tokens that end a match module's options (iptables-save never prints an option value like these).
_RULE_KEYWORDS = ("-p", "-m", "-j", "-g", "!")


class NetfilterModelError(ValueError):
    """The rendered state has something this model cannot read (or the kernel would refuse)."""


class _Packet:
    """The first packet of a connection: conntrack NEW, connmark 0; only the mark changes."""

    def __init__(self, source, destination, protocol, port):
        self.source = source
        self.destination = destination
        self.protocol = protocol
        self.port = port
        self.mark = 0
        self.connmark = 0


class _IpSetModel:
    """Membership test of one ipset, as the kernel's hash:ip / hash:net types do it."""

    def __init__(self, ipset):
        self.name = ipset.name
        self.family = ipset.family
        self.type = ipset.type
        if ipset.family not in (4, 6):
            raise NetfilterModelError("set %s: family must be 4 or 6, not %r" % (ipset.name, ipset.family))
        if ipset.type == "hash:ip":
            self.addresses = frozenset(self._address(member) for member in ipset.members)
            if len(self.addresses) != len(ipset.members):
                raise NetfilterModelError("set %s: duplicate members" % ipset.name)
        elif ipset.type == "hash:net":
            self.by_prefix = {}  # prefix length -> {network: nomatch}
            for member in ipset.members:
                network, nomatch = self._net_member(member)
                entries = self.by_prefix.setdefault(network.prefixlen, {})
                if network in entries:
                    raise NetfilterModelError("set %s: %s is in the set twice" % (ipset.name, network))
                entries[network] = nomatch
            self.prefixes = sorted(self.by_prefix, reverse=True)
        else:
            raise NetfilterModelError("set %s: type %r is not understood (hash:ip or hash:net)" % (ipset.name, ipset.type))

    def _address(self, text):
        """A hash:ip member: one address of the set's family, nothing else on the line."""
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise NetfilterModelError("set %s: hash:ip member %r is not a bare address" % (self.name, text)) from None
        if address.version != self.family:
            raise NetfilterModelError("set %s: member %s is not of family %d" % (self.name, text, self.family))
        return address

    def _net_member(self, text):
        """A hash:net member: `net[/prefix][ nomatch]`; a bare address is a full-length prefix."""
        words = text.split()
        if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1] != "nomatch"):
            raise NetfilterModelError("set %s: hash:net member %r is not understood" % (self.name, text))
        try:
            network = ipaddress.ip_network(words[0], strict=True)
        except ValueError as error:
            raise NetfilterModelError("set %s: hash:net member %r: %s" % (self.name, text, error)) from None
        if network.version != self.family:
            raise NetfilterModelError("set %s: member %s is not of family %d" % (self.name, text, self.family))
        if network.prefixlen == 0:
            raise NetfilterModelError("set %s: hash:net cannot store the /0 %s" % (self.name, text))
        return network, len(words) == 2

    def contains(self, address):
        """hash:net: the most specific entry holding the address decides; a nomatch one excludes it."""
        if address.version != self.family:
            raise NetfilterModelError("set %s of family %d tested with %s" % (self.name, self.family, address))
        if self.type == "hash:ip":
            return address in self.addresses
        for prefix in self.prefixes:
            network = ipaddress.ip_network((address, prefix), strict=False)
            if network in self.by_prefix[prefix]:
                return not self.by_prefix[prefix][network]
        return False


class _Rule:
    """One rule spec read into match predicates (all must hold) and a target."""

    def __init__(self, chain, spec, family, sets):
        self.chain = chain
        self.spec = spec
        self.family = family
        self.sets = sets
        self.matches = []
        self.protocol = None
        self.target = None  # None, or (kind, argument): call, goto, return, mark, deny, log
        try:
            self.tokens = shlex.split(spec)
        except ValueError as error:
            raise self.error("cannot tokenise: %s" % error) from None
        self._parse()

    def error(self, message):
        return NetfilterModelError("%s: %r: %s" % (self.chain, self.spec, message))

    def holds(self, packet):
        return all(match(packet) for match in self.matches)

    # Reading the tokens.

    def _parse(self):
        tokens = self.tokens
        position = 0
        while position < len(tokens):
            token = tokens[position]
            if self.target is not None:
                raise self.error("%r after the target" % token)
            if token == "-p":
                position = self._parse_protocol(position + 1)
            elif token == "-m":
                if position + 1 >= len(tokens):
                    raise self.error("-m without a module")
                position = self._parse_module(tokens[position + 1], position + 2)
            elif token in ("-j", "-g"):
                if position + 1 >= len(tokens):
                    raise self.error("%s without a target" % token)
                position = self._parse_target(token, tokens[position + 1], position + 2)
            else:
                raise self.error("token %r is not understood" % token)

    def _value(self, position, what):
        if position >= len(self.tokens):
            raise self.error("%s needs a value" % what)
        return self.tokens[position]

    def _parse_protocol(self, position):
        name = self._value(position, "-p")
        if self.protocol is not None:
            raise self.error("two -p")
        if name not in RULE_PROTOCOLS:
            raise self.error("protocol %r is not understood" % name)
        if (name == "icmp" and self.family != 4) or (name == "ipv6-icmp" and self.family != 6):
            raise self.error("protocol %s in a family %d table" % (name, self.family))
        self.protocol = name
        self.matches.append(lambda packet: packet.protocol == name)
        return position + 1

    def _options(self, module, position, arities):
        """The `--option value...` pairs of one module, with a `!` before one marking it negated."""
        options = {}
        tokens = self.tokens
        while position < len(tokens):
            negated = tokens[position] == "!"
            index = position + 1 if negated else position
            if index >= len(tokens) or not tokens[index].startswith("--"):
                if negated:
                    raise self.error("'!' not followed by an option of -m %s" % module)
                break
            name = tokens[index]
            if name not in arities:
                raise self.error("-m %s: option %s%s is not understood" % (module, "! " if negated else "", name))
            if name in options:
                raise self.error("-m %s: %s given twice" % (module, name))
            values = tokens[index + 1:index + 1 + arities[name]]
            if len(values) != arities[name] or any(value in _RULE_KEYWORDS for value in values):
                raise self.error("-m %s: %s needs %d value(s)" % (module, name, arities[name]))
            options[name] = (negated, values)
            position = index + 1 + arities[name]
        return options, position

    def _single(self, module, options, name, negatable=False):
        """The one required option of a module, refusing a negation we do not model."""
        if set(options) != {name}:
            raise self.error("-m %s needs exactly %s" % (module, name))
        negated, values = options[name]
        if negated and not negatable:
            raise self.error("-m %s: ! %s is not understood" % (module, name))
        return negated, values

    def _parse_module(self, module, position):
        if module in PORT_PROTOCOLS:
            options, position = self._options(module, position, {"--dport": 1})
            if self.protocol != module:
                raise self.error("-m %s without -p %s before it" % (module, module))
            first, last = self._port_range(self._single(module, options, "--dport")[1][0])
            self.matches.append(lambda packet: first <= packet.port <= last)
        elif module == "multiport":
            options, position = self._options(module, position, {"--dports": 1})
            if self.protocol not in PORT_PROTOCOLS:
                raise self.error("-m multiport without -p tcp|udp|sctp before it")
            ranges = [self._port_range(item) for item in self._single(module, options, "--dports")[1][0].split(",")]
            if sum(1 if first == last else 2 for first, last in ranges) > MULTIPORT_MAX:
                raise self.error("-m multiport takes at most %d ports" % MULTIPORT_MAX)
            self.matches.append(lambda packet: any(first <= packet.port <= last for first, last in ranges))
        elif module == "set":
            options, position = self._options(module, position, {"--match-set": 2})
            negated, (name, side) = self._single(module, options, "--match-set", negatable=True)
            self.matches.append(self._set_match(name, side, negated))
        elif module == "comment":
            options, position = self._options(module, position, {"--comment": 1})
            if len(self._single(module, options, "--comment")[1][0].encode()) > MAX_COMMENT:
                raise self.error("comment longer than %d bytes" % MAX_COMMENT)
        elif module == "conntrack":
            options, position = self._options(module, position, {"--ctstate": 1})
            states = self._single(module, options, "--ctstate")[1][0].split(",")
            if not states or set(states) - set(CT_STATES):
                raise self.error("--ctstate %s is not understood" % ",".join(states))
            new = "NEW" in states
            self.matches.append(lambda packet: new)
        elif module in ("mark", "connmark"):
            options, position = self._options(module, position, {"--mark": 1})
            value, mask = self._value_mask(self._single(module, options, "--mark")[1][0])
            attribute = "mark" if module == "mark" else "connmark"
            self.matches.append(lambda packet: getattr(packet, attribute) & mask == value)
        elif module == "limit":
            options, position = self._options(module, position, {"--limit": 1, "--limit-burst": 1})
            if "--limit" not in options or any(negated for negated, _values in options.values()):
                raise self.error("-m limit needs --limit (and takes no negation)")
            if not _LIMIT_RATE.match(options["--limit"][1][0]):
                raise self.error("--limit %r is not understood" % options["--limit"][1][0])
            if "--limit-burst" in options and not options["--limit-burst"][1][0].isdigit():
                raise self.error("--limit-burst must be a number")
            # A first packet never meets an exhausted bucket in these tests: the match holds.
        elif module == "icmp6":
            options, position = self._options(module, position, {"--icmpv6-type": 1})
            if self.protocol != "ipv6-icmp":
                raise self.error("-m icmp6 without -p ipv6-icmp before it")
            if not self._single(module, options, "--icmpv6-type")[1][0].isdigit():
                raise self.error("--icmpv6-type must be a number here")
            self.matches.append(lambda packet: False)  # our packets are never ICMPv6
        else:
            raise self.error("match module %r is not understood" % module)
        return position

    def _port_range(self, text):
        """`N` or `N:M` (inclusive); the kernel refuses an inverted range."""
        parts = text.split(":")
        if not 1 <= len(parts) <= 2 or not all(part.isdigit() for part in parts):
            raise self.error("port %r is not understood" % text)
        first, last = int(parts[0]), int(parts[-1])
        if not 0 <= first <= last <= 65535:
            raise self.error("bad port range %r" % text)
        return first, last

    def _value_mask(self, text):
        """`V/M` or `V` (mask all ones), numbers in any base iptables-save prints."""
        value, slash, mask = text.partition("/")
        try:
            value, mask = int(value, 0), int(mask, 0) if slash else MASK32
        except ValueError:
            raise self.error("mark %r is not understood" % text) from None
        if not (0 <= value <= MASK32 and 0 <= mask <= MASK32):
            raise self.error("mark %r out of 32 bits" % text)
        return value, mask

    def _set_match(self, name, side, negated):
        if name not in self.sets:
            raise self.error("set %s is not among the desired sets" % name)
        ipset = self.sets[name]
        if ipset.family != self.family:
            # The kernel would load it and never match (always match when negated): a renderer bug.
            raise self.error("set %s is of family %d, used in the family %d table" % (name, ipset.family, self.family))
        if side not in ("src", "dst"):
            raise self.error("set direction %r is not understood (src or dst)" % side)
        attribute = "source" if side == "src" else "destination"
        return lambda packet: ipset.contains(getattr(packet, attribute)) != negated

    def _parse_target(self, flag, name, position):
        if flag == "-g":
            self.target = ("goto", name)
            return position
        if name == "MARK":
            options, position = self._target_options(name, position, {"--set-xmark": 1})
            if set(options) != {"--set-xmark"}:
                raise self.error("-j MARK needs exactly --set-xmark")
            self.target = ("mark", self._value_mask(options["--set-xmark"][0]))
        elif name == "REJECT":
            options, position = self._target_options(name, position, {"--reject-with": 1})
            kind = options.get("--reject-with", ["icmp-port-unreachable" if self.family == 4 else "icmp6-port-unreachable"])[0]
            if kind not in REJECT_TYPES[self.family]:
                raise self.error("--reject-with %s is not understood in family %d" % (kind, self.family))
            if kind == "tcp-reset" and self.protocol != "tcp":
                raise self.error("--reject-with tcp-reset without -p tcp")
            self.target = ("deny", name)
        elif name == "NFLOG":
            options, position = self._target_options(name, position, {"--nflog-prefix": 1, "--nflog-group": 1})
            group = options.get("--nflog-group", ["0"])[0]
            if not (group.isdigit() and int(group) <= 65535):
                raise self.error("--nflog-group must be a number up to 65535")
            if len(options.get("--nflog-prefix", [""])[0].encode()) > 63:
                raise self.error("--nflog-prefix longer than 63 bytes")
            self.target = ("log", name)
        elif name in ("DROP", "RETURN"):
            self.target = ("deny" if name == "DROP" else "return", name)
        elif name in ("ACCEPT", "QUEUE", "NFQUEUE", "CONNMARK", "LOG", "CT", "TRACE"):
            raise self.error("target %s is not understood (our chains never use it)" % name)
        else:
            self.target = ("call", name)
        return position

    def _target_options(self, target, position, arities):
        options = {}
        tokens = self.tokens
        while position < len(tokens):
            name = tokens[position]
            if name not in arities:
                raise self.error("-j %s: option %r is not understood" % (target, name))
            if name in options:
                raise self.error("-j %s: %s given twice" % (target, name))
            values = tokens[position + 1:position + 1 + arities[name]]
            if len(values) != arities[name]:
                raise self.error("-j %s: %s needs a value" % (target, name))
            options[name] = values
            position += 1 + arities[name]
        return options, position


class _TableModel:
    """One family's table read in full: chains of rules, their call graph checked like the kernel does."""

    def __init__(self, table, sets):
        self.family = table.family
        names = [name for name, _rules in table.chains]
        if len(set(names)) != len(names):
            raise NetfilterModelError("family %d: a chain is listed twice" % table.family)
        if naming.TOP_CHAIN not in names:
            raise NetfilterModelError("family %d: no %s chain" % (table.family, naming.TOP_CHAIN))
        self.chains = {name: [_Rule(name, spec, table.family, sets) for spec in rules] for name, rules in table.chains}
        for name, rules in self.chains.items():
            for rule in rules:
                if rule.target and rule.target[0] in ("call", "goto") and rule.target[1] not in self.chains:
                    raise rule.error("target %s is neither a chain of ours nor a target this model knows" % rule.target[1])
        self._check_no_loop()
        self.jump = _Rule("FORWARD", table.jump, table.family, sets)
        if self.jump.target != ("call", naming.TOP_CHAIN):
            raise self.jump.error("the FORWARD rule must be -j %s" % naming.TOP_CHAIN)

    def _check_no_loop(self):
        """iptables-restore refuses a chain that can reach itself; so does the model."""
        done = set()

        def visit(name, path):
            if name in path:
                raise NetfilterModelError("family %d: chain loop %s" % (self.family, " -> ".join(path + (name,))))
            if name in done:
                return
            for rule in self.chains[name]:
                if rule.target and rule.target[0] in ("call", "goto"):
                    visit(rule.target[1], path + (name,))
            done.add(name)

        for name in self.chains:
            visit(name, ())

    def walk(self, packet):
        """(verdict, trace): trace lists (chain, spec) of every rule whose matches held, in order."""
        trace = []
        if not self.jump.holds(packet):
            return PASS, trace
        stack = []  # (chain, index of the next rule) to resume when a called chain returns
        chain, index = naming.TOP_CHAIN, 0
        while True:
            rules = self.chains[chain]
            returned = False
            while index < len(rules) and not returned:
                rule = rules[index]
                index += 1
                if not rule.holds(packet):
                    continue
                trace.append((chain, rule.spec))
                kind, argument = rule.target or (None, None)
                if kind == "call":
                    stack.append((chain, index))
                    chain, index, rules = argument, 0, self.chains[argument]
                elif kind == "goto":  # the goto'ing chain's frame is replaced: no push
                    chain, index, rules = argument, 0, self.chains[argument]
                elif kind == "return":
                    returned = True
                elif kind == "mark":
                    value, mask = argument
                    packet.mark = (packet.mark & ~mask & MASK32) ^ value
                elif kind == "deny":
                    return DENY, trace
                # "log" and no target: on to the next rule
            if not stack:
                return PASS, trace  # KUBENET-FORWARD returned to FORWARD
            chain, index = stack.pop()


@lru_cache(maxsize=32)
def _model(desired, family):
    """The table of a family read once per desired state (property tests ask many packets)."""
    sets = {}
    for ipset in desired.sets:
        if ipset.name in sets:
            raise NetfilterModelError("set %s is listed twice" % ipset.name)
        sets[ipset.name] = _IpSetModel(ipset)
    tables = [table for table in desired.tables if table.family == family]
    if len(tables) > 1:
        raise NetfilterModelError("two tables of family %d" % family)
    return _TableModel(tables[0], sets) if tables else None


def _packet(source_ip, destination_ip, protocol, port):
    source, destination = ipaddress.ip_address(source_ip), ipaddress.ip_address(destination_ip)
    if source.version != destination.version:
        raise NetfilterModelError("%s and %s are not of one family" % (source, destination))
    if protocol not in PACKET_PROTOCOLS:
        raise NetfilterModelError("protocol must be one of %s, not %r" % (", ".join(PACKET_PROTOCOLS), protocol))
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise NetfilterModelError("port must be an integer 0-65535, not %r" % (port,))
    return _Packet(source, destination, protocol.lower(), port)


def forward_trace(desired, source_ip, destination_ip, protocol, port):
    """forward_verdict and the (chain, rule spec) of every rule that matched on the way, to explain a failure."""
    packet = _packet(source_ip, destination_ip, protocol, port)
    try:
        model = _model(desired, packet.source.version)
    except TypeError:  # an unhashable hand-made desired state: read it without the cache
        model = _model.__wrapped__(desired, packet.source.version)
    if model is None:
        return PASS, []
    return model.walk(packet)


def forward_verdict(desired, source_ip, destination_ip, protocol, port):
    """'deny' or 'pass' for the first packet (conntrack state NEW, packet mark 0, connmark 0) of a
    connection from source_ip to destination_ip, protocol 'TCP'|'UDP'|'SCTP', destination port `port`,
    as it traverses KUBENET-FORWARD of the table of the addresses' family. 'pass' = it returned to FORWARD."""
    return forward_trace(desired, source_ip, destination_ip, protocol, port)[0]
