# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render one node's plan slice (docs/plan-format.md) into its desired netfilter state.

The output is what `iptables-save -t filter` and `ipset save` would print for our objects,
so converging is a plain comparison. Per IP family:

- FORWARD gets one jump into KUBENET-FORWARD (bridged pod traffic reaches FORWARD through
  br_netfilter, routed traffic anyway); pod <-> own node traffic uses INPUT/OUTPUT, untouched.
- KUBENET-FORWARD returns replies (ESTABLISHED,RELATED, which also covers the ICMP errors of
  allowed flows) and, in IPv6, neighbour discovery; then dispatches packets from pods isolated
  for egress, then packets to pods isolated for ingress, into pod chains. Local pods isolated
  by the same policies share one pod chain, entered through a set of their addresses, so pod
  churn only changes set members and the rule count does not grow with the pods. With several
  such groups in a direction, one lookup of the set of all their pods leads into that
  direction's dispatch chain (KUBENET-EGRESS, KUBENET-INGRESS), so the packets of pods no
  policy isolates never walk the groups one by one.
- A pod chain drops INVALID packets, clears our mark bit, calls each isolating policy's chain
  and leaves through KUBENET-ALLOW (which clears the mark, then returns: after the egress check
  to KUBENET-FORWARD for the ingress check, after the ingress check, entered by a goto, straight
  to FORWARD) as soon as one marked the packet; otherwise it denies. Nothing of ours ever ACCEPTs: what
  we allow goes back to FORWARD, whose own rules still decide.
- A policy chain (one per policy and direction) has one rule per clause, peer set and port
  matcher, each setting the mark. Peers and named-port targets are ipsets.
- Every use of a set (a dispatch, a clause's peers, one ipBlock, ...) is a *user*; users of the
  same type and members share one set, named after its smallest user (naming.set_name). A
  member change that all users of a set follow keeps its name (a swap, no rule rewritten);
  users that diverge split off under their own names.
- Opt-ins: the fail-closed mode denies pod-CIDR addresses the plan does not know (pods started
  since); cutting connections denies, first of all, connections marked as no longer allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import (
    canonical_address, network, packed_address, pod_address)
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import (
    EGRESS, FAMILIES, INGRESS, PROTOCOLS, PlanError, check_version, field)

# Bump when the same plan renders differently (a test pins the output of a sample plan): a
# node whose record was made by another version then compares its state in full again.
RENDER_VERSION = 4
DISPATCH_ORDER = (EGRESS, INGRESS)  # egress first: a same-node pair meets both checks in one pass
DENY_ACTIONS = ("REJECT", "DROP")
REJECT_WITH = {4: "icmp-port-unreachable", 6: "icmp6-port-unreachable"}
NEIGHBOUR_DISCOVERY_TYPES = (133, 134, 135, 136)
DEFAULT_LOG_LIMIT = "10/minute"
DEFAULT_LOG_BURST = 5  # the limit match's own default, which iptables-save leaves out
MAX_LOG_BURST = 10000
# The limit match counts in 1/10000 s and prints a rate in the largest unit that keeps it whole.
LIMIT_SCALE = 10000
LIMIT_UNITS = (("day", 86400), ("hour", 3600), ("min", 60), ("sec", 1))
LIMIT_UNIT_WORDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MULTIPORT_MAX = 15
DEFAULT_MARK = 0x100000
DEFAULT_LOG_GROUP = 100
HASH_IP = "hash:ip"
HASH_NET = "hash:net"
IPSET_FAMILIES = {4: "inet", 6: "inet6"}
DEFAULT_MAXELEM = 65536
SET_TYPES = {"D": HASH_IP, "I": HASH_IP, "P": HASH_IP, "T": HASH_IP, "K": HASH_IP, "N": HASH_NET,
             "C": HASH_NET}  # by user kind
# A set's name is known only once all its users are: rules hold this placeholder until then (a
# control character, which no comment keeps, so it appears nowhere else in a rule).
_SET_PLACEHOLDER = "\x00%d\x00"
_SET_PLACEHOLDERS = re.compile("\x00([0-9]+)\x00")


@dataclass(frozen=True)
class RenderOptions:
    """How denied packets are treated, the mark bit, and the families to render."""

    deny_action: str = "REJECT"
    log_denied: bool = False
    log_group: int = DEFAULT_LOG_GROUP
    mark: int = DEFAULT_MARK
    families: tuple = FAMILIES
    fail_closed_cidrs: tuple = ()  # the node's pod CIDRs: deny traffic of pods the plan does not know yet
    cut_connections: bool = False  # deny packets of connections marked as no longer allowed
    log_limit: str = DEFAULT_LOG_LIMIT  # per pod chain and family, as iptables-save prints it once normalized
    log_burst: int = DEFAULT_LOG_BURST

    def __post_init__(self):
        """Equal settings make equal options (the fingerprint hashes every field): lists are sorted sets."""
        object.__setattr__(self, "families", tuple(sorted(set(self.families))))
        object.__setattr__(self, "fail_closed_cidrs", tuple(sorted(set(self.fail_closed_cidrs))))
        object.__setattr__(self, "log_limit", limit_rate(self.log_limit))
        if self.deny_action not in DENY_ACTIONS:
            raise ValueError("deny_action must be one of %s, not %r" % (", ".join(DENY_ACTIONS), self.deny_action))
        if not 0 < self.mark <= 0xFFFFFFFF or self.mark & (self.mark - 1):
            raise ValueError("mark must be a single bit of the 32-bit packet mark, not %#x" % self.mark)
        if not 0 <= self.log_group <= 65535:
            raise ValueError("log_group must be between 0 and 65535, not %d" % self.log_group)
        if not 1 <= self.log_burst <= MAX_LOG_BURST:
            raise ValueError("log_burst must be between 1 and %d, not %d" % (MAX_LOG_BURST, self.log_burst))
        if not self.families or set(self.families) - set(FAMILIES):
            raise ValueError("families must be a non-empty subset of (4, 6), not %r" % (self.families,))
        for cidr in self.fail_closed_cidrs:
            try:
                prefix = network(cidr).prefixlen
            except PlanError:
                raise ValueError("fail_closed_cidrs: not a CIDR: %r" % (cidr,)) from None
            if prefix == 0:
                raise ValueError("fail_closed_cidrs: %s is every address, not a pod CIDR" % cidr)


def limit_rate(text):
    """A rate such as "10/minute" written as iptables-save prints it back ("10/min", "600/hour" too).

    The limit match keeps the interval between packets in 1/10000 s, so different spellings (and
    rates that do not divide evenly) come back in one form; rendering that form keeps the comparison exact.
    """
    count, _slash, unit = str(text).partition("/")
    seconds = [value for word, value in LIMIT_UNIT_WORDS.items() if unit and word.startswith(unit.lower())]
    if not count.isdigit() or int(count) == 0 or len(seconds) != 1:
        raise ValueError("log_limit must be a number of packets per second, minute, hour or day such as "
                         "10/minute, not %r" % (text,))
    interval = LIMIT_SCALE * seconds[0] // int(count)
    if interval == 0:
        raise ValueError("log_limit %r is faster than %d/second" % (text, LIMIT_SCALE))
    scaled = [(name, LIMIT_SCALE * unit_seconds) for name, unit_seconds in LIMIT_UNITS]
    chosen = len(scaled) - 1
    for number in range(1, len(scaled)):
        whole = scaled[number][1]
        if interval > whole or whole // interval < whole % interval:
            chosen = number - 1
            break
    name, whole = scaled[chosen]
    return "%d/%s" % (whole // interval, name)


@dataclass(frozen=True)
class IpSet:
    """One set: its members are written exactly as `ipset save` prints them."""

    name: str
    family: int
    type: str
    members: tuple

    def create_line(self, name=None):
        line = "create %s %s family %s" % (name or self.name, self.type, IPSET_FAMILIES[self.family])
        if len(self.members) > DEFAULT_MAXELEM // 2:
            line += " maxelem %d" % (1 << (2 * len(self.members) - 1).bit_length())
        return line


@dataclass(frozen=True)
class Table:
    """Our part of one family's filter table: chains (sorted by name) and the FORWARD jump."""

    family: int
    chains: tuple  # ((name, (rule spec, ...)), ...)
    jump: str

    @property
    def chain_map(self):
        return dict(self.chains)


@dataclass(frozen=True)
class Desired:
    tables: tuple  # one Table per rendered family
    sets: tuple  # IpSet, sorted by name

    def counts(self):
        chains = sum(len(table.chains) for table in self.tables)
        rules = sum(len(chain[1]) for table in self.tables for chain in table.chains) + len(self.tables)
        return {"chains": chains, "rules": rules, "sets": len(self.sets),
                "members": sum(len(item.members) for item in self.sets)}


def net_member(net, nomatch=False):
    """A hash:net member as ipset prints it: a full-length prefix is printed as the bare address."""
    text = canonical_address(str(net.network_address))[0]
    if net.prefixlen != net.max_prefixlen:
        text += "/%d" % net.prefixlen
    return text + " nomatch" if nomatch else text


@lru_cache(maxsize=None)
def member_sort_key(member):
    """Numeric order of members (family, address, prefix, nomatch last), for stable output."""
    text, flag = (member + " ").split(" ", 1)
    address, prefix = (text + "/").split("/", 2)[:2]
    packed = packed_address(address)
    if packed is None:
        return 9, 0, 0, member  # not an address (a hand-made member): last, in text order
    return packed[0], int.from_bytes(packed[1], "big"), int(prefix or 128), flag


def block_members(block, family):
    """The hash:net members of one ipBlock in a family ((): the block matches nothing there).

    A /0 cannot be stored in hash:net, so it becomes its two /1 halves (no gap). Excepts are
    `nomatch` entries; an except that covers a whole positive entry removes that entry.
    """
    return _block_members(field(block, "cidr", "plan: ipBlock"), tuple(block.get("except") or ()), family)


@lru_cache(maxsize=None)
def _block_members(cidr, excepts, family):
    """block_members, cached: the same blocks recur in many policies."""
    cidr = network(cidr)
    if cidr.version != family:
        return ()
    positives = list(cidr.subnets(prefixlen_diff=1)) if cidr.prefixlen == 0 else [cidr]
    excepts = {network(text) for text in excepts}
    excepts = {cut for cut in excepts if cut.version == family}
    positives = [net for net in positives if not any(net.subnet_of(cut) for cut in excepts)]
    if not positives:
        return ()
    holes = sorted(cut for cut in excepts if any(cut != net and cut.subnet_of(net) for net in positives))
    members = [net_member(net) for net in positives] + [net_member(cut, True) for cut in holes]
    return tuple(sorted(members, key=member_sort_key))


def _port_number(value):
    """A port of the plan as written into a rule: a whole number, never text or a truth value."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError("a port must be a whole number, not %r" % (value,))
    return value


def port_matchers(ports):
    """(protocol part, port part) pairs for a clause's ports; None ports match everything.

    Single ports share a multiport match (at most 15 per rule), a range gets `--dport a:b`,
    a port-less entry matches the whole protocol and makes its numbered entries redundant.
    """
    if ports is None:
        return [("", "")]
    by_protocol = {}
    for item in ports:
        protocol = item.get("protocol")
        if protocol not in PROTOCOLS:
            raise PlanError("port protocol must be one of %s, not %r" % (", ".join(PROTOCOLS), protocol))
        entry = by_protocol.setdefault(protocol, {"all": False, "singles": set(), "ranges": set()})
        if item.get("port") is None:
            entry["all"] = True
            continue
        first = _port_number(item["port"])
        last = _port_number(item["end_port"]) if item.get("end_port") is not None else first
        if not 1 <= first <= last <= 65535:
            raise PlanError("bad port range %r-%r" % (item.get("port"), item.get("end_port")))
        if first == last:
            entry["singles"].add(first)
        else:
            entry["ranges"].add((first, last))
    matchers = []
    for protocol in sorted(by_protocol):
        entry = by_protocol[protocol]
        name = protocol.lower()
        proto = "-p " + name
        if entry["all"]:
            matchers.append((proto, ""))
            continue
        singles = sorted(entry["singles"])
        for start in range(0, len(singles), MULTIPORT_MAX):
            chunk = singles[start:start + MULTIPORT_MAX]
            if len(chunk) == 1:
                matchers.append((proto, "-m %s --dport %d" % (name, chunk[0])))
            else:
                matchers.append((proto, "-m multiport --dports %s" % ",".join(str(port) for port in chunk)))
        for first, last in sorted(entry["ranges"]):
            matchers.append((proto, "-m %s --dport %d:%d" % (name, first, last)))
    return matchers


def _join(*parts):
    return " ".join(part for part in parts if part)


class _Slice:
    """The plan slice read once: pod addresses, isolation groups, policies and peer sets."""

    def __init__(self, data):
        if not isinstance(data, dict):
            raise PlanError("the plan slice must be a mapping, not %s" % type(data).__name__)
        check_version(data, "the plan slice")
        self.pod_ips = {}
        self.groups = {direction: {} for direction in DISPATCH_ORDER}
        for number, pod in enumerate(field(data, "pods", "plan")):
            where = "plan: pods[%d]" % number
            key = field(pod, "pod", where)
            self.pod_ips[key] = tuple(pod_address(ip) for ip in field(pod, "ips", where))
            for direction in DISPATCH_ORDER:
                policies = tuple(sorted(set(pod.get(direction) or ())))
                if policies:
                    self.groups[direction].setdefault(policies, []).append(key)
        self.policies = {}
        for number, entry in enumerate(field(data, "policies", "plan")):
            where = "plan: policies[%d]" % number
            direction = field(entry, "direction", where)
            if direction not in DISPATCH_ORDER:
                raise PlanError("%s: direction must be ingress or egress, not %r" % (where, direction))
            self.policies[(field(entry, "policy", where), direction)] = entry
        self.peer_sets = data.get("peer_sets") or {}
        self._peer_cache = {}

    def pod_addresses(self, keys, family, where):
        """The sorted addresses of a family of some local pods."""
        found = set()
        for key in keys:
            if key not in self.pod_ips:
                raise PlanError("%s: pod %s is not among the plan's pods" % (where, key))
            found.update(text for text, version in self.pod_ips[key] if version == family)
        return tuple(sorted(found, key=member_sort_key))

    def peer_addresses(self, set_id, family, where):
        """The sorted addresses of a family of a peer set, computed once per set for both families
        (clauses share them)."""
        if set_id not in self._peer_cache:
            if set_id not in self.peer_sets:
                raise PlanError("%s: peer set %s is not in peer_sets" % (where, set_id))
            found = {version: set() for version in FAMILIES}
            for text, version in map(pod_address, self.peer_sets[set_id]):
                found[version].add(text)
            self._peer_cache[set_id] = {version: tuple(sorted(texts, key=member_sort_key))
                                        for version, texts in found.items()}
        return self._peer_cache[set_id][family]


class _FamilyRenderer:
    """Chains and sets of one family; policy chains are rendered once, when first referenced."""

    def __init__(self, plan, family, options):
        self.plan = plan
        self.family = family
        self.options = options
        self.mark = "%#x" % options.mark
        self.chains = {}
        self.sets = {}
        self._users = []  # (kind, identity, members), the index is the placeholder's number
        self._policy_chains = {}

    def add_set(self, kind, members, identity):
        """Record a user of a set (members already sorted); its rules hold a placeholder for the name."""
        self._users.append((kind, tuple(identity), members))
        return _SET_PLACEHOLDER % (len(self._users) - 1)

    def name_sets(self):
        """One set per type and member list, named after its smallest user; the names into the rules."""
        groups = {}
        for number, (kind, identity, members) in enumerate(self._users):
            groups.setdefault((SET_TYPES[kind], members), []).append(number)
        names = [None] * len(self._users)
        for (set_type, members), numbers in groups.items():
            kind, identity, _members = min((self._users[number] for number in numbers),
                                           key=lambda user: naming.identity_text(user[0], *user[1]))
            name = naming.set_name(set_type, self.family, kind, *identity)
            self.sets[name] = IpSet(name, self.family, set_type, members)
            for number in numbers:
                names[number] = name

        def named(found):
            return names[int(found.group(1))]

        for chain, rules in self.chains.items():
            self.chains[chain] = [_SET_PLACEHOLDERS.sub(named, rule) if "\x00" in rule else rule for rule in rules]

    def render(self):
        top = []
        if self.options.cut_connections:  # only connections we marked as denied (see conntrack.py)
            top.append("-m connmark --mark %s/%s %s %s" % (
                self.mark, self.mark, naming.comment_match("connection no longer allowed"), self.deny_target()))
        top.append("-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN")
        if self.family == 6:
            top += ["-p ipv6-icmp -m icmp6 --icmpv6-type %d -j RETURN" % kind for kind in NEIGHBOUR_DISCOVERY_TYPES]
        top += self.fail_closed_rules()
        for direction in DISPATCH_ORDER:
            top += self.dispatch(direction)
        self.chains[naming.TOP_CHAIN] = top
        self.chains[naming.ALLOW_CHAIN] = ["-j MARK --set-xmark 0x0/%s" % self.mark]
        self.name_sets()
        chains = tuple((name, tuple(self.chains[name])) for name in sorted(self.chains))
        jump = "%s -j %s" % (naming.comment_match(naming.JUMP_COMMENT), naming.TOP_CHAIN)
        return Table(self.family, chains, jump)

    def deny_target(self):
        if self.options.deny_action == "REJECT":
            return "-j REJECT --reject-with " + REJECT_WITH[self.family]
        return "-j DROP"

    def fail_closed_rules(self):
        """Opt-in (pitfall 10): a pod started since the plan was made has no chain yet, so deny
        the traffic of every address of the node's pod CIDRs that the plan does not know."""
        cidrs = {network(cidr) for cidr in self.options.fail_closed_cidrs}
        members = tuple(sorted((net_member(net) for net in cidrs if net.version == self.family), key=member_sort_key))
        if not members:
            return []
        cidr_set = self.add_set("C", members, ("fail-closed",))
        known = self.plan.pod_addresses(self.plan.pod_ips, self.family, "plan: pods")
        known_set = self.add_set("K", known, ("fail-closed",)) if known else None
        text = naming.comment_match("fail closed: pod not in the plan yet")
        rules = []
        for side in ("src", "dst"):
            unknown = "! --match-set %s %s" % (known_set, side) if known_set else ""
            rules.append(_join("-m set --match-set %s %s" % (cidr_set, side), "-m set" if unknown else "", unknown,
                               text, self.deny_target()))
        return rules

    def dispatch(self, direction):
        """KUBENET-FORWARD's rules that send a direction's isolated pods into their pod chains.

        A new connection of a pod isolated by no policy must not walk one set lookup per
        isolation group: with several groups, one lookup of the set of all of them decides, and
        only their packets enter the direction's dispatch chain. Each pod is in one group, so a
        packet leaves the dispatch chain through its pod chain (a goto), back to the chain that
        entered the dispatch chain. The ingress check is the last: its packets go (goto) rather
        than jump, and leave straight to FORWARD; egress ones come back for the ingress check.
        """
        side = "src" if direction == EGRESS else "dst"
        enter = "-g" if direction == INGRESS else "-j"
        groups = sorted(self.plan.groups[direction])
        addresses = {policies: self.plan.pod_addresses(self.plan.groups[direction][policies], self.family,
                                                       "plan: pods") for policies in groups}
        groups = [policies for policies in groups if addresses[policies]]
        if len(groups) == 1:
            return [self.dispatch_rule(direction, groups[0], addresses[groups[0]], side, enter)]
        if not groups:
            return []
        chain = naming.DISPATCH_CHAINS[direction]
        self.chains[chain] = [self.dispatch_rule(direction, policies, addresses[policies], side, "-g")
                              for policies in groups]
        every = tuple(sorted({address for found in addresses.values() for address in found}, key=member_sort_key))
        members = self.add_set("I", every, (direction,))
        text = naming.comment_match("%s isolated by any policy" % direction)
        return [_join("-m set --match-set", members, side, text, enter, chain)]

    def dispatch_rule(self, direction, policies, addresses, side, enter):
        summary = "%s isolated by %s" % (direction, ", ".join(policies))
        members = self.add_set("D", addresses, (direction,) + policies)
        chain = naming.pod_chain(direction, policies)
        self.chains[chain] = self.pod_chain_rules(direction, policies)
        return _join("-m set --match-set", members, side, naming.comment_match(summary), enter, chain)

    def pod_chain_rules(self, direction, policies):
        rules = ["-m conntrack --ctstate INVALID -j DROP", "-j MARK --set-xmark 0x0/%s" % self.mark]
        for policy in policies:
            chain = self.policy_chain(policy, direction)
            if chain is not None:
                rules.append("%s -j %s" % (naming.comment_match("%s %s" % (policy, direction)), chain))
                rules.append("-m mark --mark %s/%s -g %s" % (self.mark, self.mark, naming.ALLOW_CHAIN))
        if self.options.log_denied:  # after the allow jumps: allowed packets never meet it
            rules.append(self.log_rule(naming.pod_chain(direction, policies)))
        rules.append("%s %s" % (naming.comment_match("deny %s" % direction), self.deny_target()))
        return rules

    def log_rule(self, chain):
        """NFLOG of the chain's denials (rate limited per chain), as iptables-save prints it: the
        default burst and group 0 are left out."""
        options = self.options
        burst = "--limit-burst %d" % options.log_burst if options.log_burst != DEFAULT_LOG_BURST else ""
        group = "--nflog-group %d" % options.log_group if options.log_group else ""
        return _join("-m limit --limit", options.log_limit, burst,
                     '-j NFLOG --nflog-prefix "%s"' % naming.log_prefix(chain), group)

    def policy_chain(self, policy, direction):
        """The policy's chain name, or None when it allows nothing in this family (no chain)."""
        key = (policy, direction)
        if key not in self._policy_chains:
            entry = self.plan.policies.get(key)
            if entry is None:
                raise PlanError("plan: a pod is isolated for %s by %s, which is not among the plan's policies"
                                % (direction, policy))
            rules = []
            every_target = set(entry.get("targets") or ())
            for rule in sorted(field(entry, "rules", "plan: policy %s" % policy), key=lambda item: item["index"]):
                for number, clause in enumerate(rule.get("clauses") or ()):
                    rules += self.clause_rules(policy, direction, rule["index"], number, clause, every_target)
            name = None
            if rules:
                name = naming.policy_chain(policy, direction)
                self.chains[name] = rules
            self._policy_chains[key] = name
        return self._policy_chains[key]

    def clause_rules(self, policy, direction, index, number, clause, every_target):
        """Only the policy's own targets enter its chain, so a clause for all of them needs no target match."""
        where = "plan: policy %s %s rule %d clause %d" % (policy, direction, index, number)
        identity = (policy, direction, index, number)
        ingress = direction == INGRESS
        target_match = ""
        if clause.get("targets") is not None and not every_target <= set(clause["targets"]):
            addresses = self.plan.pod_addresses(clause["targets"], self.family, where)
            if not addresses:
                return []
            targets = self.add_set("T", addresses, identity)
            target_match = "-m set --match-set %s %s" % (targets, "dst" if ingress else "src")
        peer_matches = self.peer_matches(clause.get("peers"), identity, where, "src" if ingress else "dst")
        text = naming.comment_match("%s %s rule %d" % (policy, direction, index))
        target = "-j MARK --set-xmark %s/%s" % (self.mark, self.mark)
        # The port match goes before the set lookups: it is the cheaper test and fails first.
        return [_join(proto, port, target_match, peer, text, target)
                for peer in peer_matches for proto, port in port_matchers(clause.get("ports"))]

    def peer_matches(self, peers, identity, where, side):
        """One address match per peer set; [""] for any address; [] when nothing is in this family."""
        if peers is None:
            return [""]
        matches = []
        if peers.get("pod_set") is not None:
            addresses = self.plan.peer_addresses(peers["pod_set"], self.family, where)
            if addresses:
                name = self.add_set("P", addresses, identity)
                matches.append("-m set --match-set %s %s" % (name, side))
        for number, block in enumerate(peers.get("ip_blocks") or ()):
            members = block_members(block, self.family)
            if members:
                name = self.add_set("N", members, identity + ("block", number))
                matches.append("-m set --match-set %s %s" % (name, side))
        return matches


def render(plan_slice, options=None):
    """The desired state of one node: a Table per family and every set, deterministic."""
    options = options or RenderOptions()
    plan = _Slice(plan_slice)
    tables = []
    sets = {}
    for family in sorted(options.families):
        renderer = _FamilyRenderer(plan, family, options)
        tables.append(renderer.render())
        sets.update(renderer.sets)
    return Desired(tuple(tables), tuple(sets[name] for name in sorted(sets)))


def fingerprint(plan_slice, options=None):
    """A digest of everything the desired state depends on: the plan, every option (all fields, so
    a new option is covered without a change here), the render version."""
    options = options or RenderOptions()
    data = {"render": RENDER_VERSION, "plan": plan_slice, "options": dataclasses.asdict(options)}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
