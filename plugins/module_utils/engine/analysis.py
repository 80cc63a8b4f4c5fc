# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""All-pairs connectivity by equivalence classes: a whole cluster's truth table at once.

Asking the one verdict (plan/verdict.py) pair by pair costs pods squared times the rules. But
endpoints that no selector, ipBlock, named port or node placement tells apart get the same
verdicts, so verdicts are worked out once per pair of classes and per port range the policies
tell apart, as bitsets over classes, and copied to endpoint pairs only when a table is asked
for. The rules are verdict.py's, read from the same plan; the property tests hold the tables
equal to it on generated clusters.

An endpoint is seen in each IP family at its first address of that family. Its class is its
profile (what the policies see: the policies isolating it, the clause target lists holding it,
the peer sets and ipBlocks holding its address) and its placement (the node whose own addresses
it reaches unfiltered, and the nodes whose own address it is). Placement only matters for a few
pairs, so the bitsets range over profiles and placement is checked per pair of classes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from operator import attrgetter

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.gc_pause import without_cycle_collection
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import block_cidrs, canonical_address, packed_address
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import EGRESS, FAMILIES, INGRESS, check_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.verdict import port_matches

FIRST_PORT = 1
LAST_PORT = 65535


@dataclass(frozen=True, eq=False)
class EndpointClass:
    """Endpoints of one IP family that get the same verdicts.

    profile: the index of what the policies see of them in the matrix's bitsets; node: the node
    whose own addresses they reach unfiltered (they are its pods, and some endpoint holds one of
    its addresses), else None; own_of: the nodes whose own address theirs is.
    """

    family: int
    profile: int
    node: str | None
    own_of: frozenset
    members: tuple


def node_local(source_class, destination_class):
    """Traffic between a pod and its own node's addresses never crosses FORWARD: no policy applies."""
    return source_class.node in destination_class.own_of or destination_class.node in source_class.own_of


@dataclass(frozen=True)
class _Clause:
    """A clause of the plan with its policy and direction; peer_keys None: any address."""

    policy: str
    direction: str
    targets: frozenset | None
    peer_keys: tuple | None
    ports: int  # index of its port list in _PortClasses.lists


@dataclass(frozen=True)
class _Profile:
    """What the policies see of an endpoint at one address: all a verdict reads but placement."""

    ingress: tuple
    egress: tuple
    target_lists: frozenset
    peer_keys: frozenset


def _block_key(block):
    return ("block", block["cidr"], tuple(block.get("except") or ()))


def _peer_keys(peers):
    """The peer sets and ipBlocks a clause admits, as keys; None for any address."""
    if peers is None:
        return None
    keys = [_block_key(block) for block in peers.get("ip_blocks") or ()]
    if peers.get("pod_set") is not None:
        keys.append(("pods", peers["pod_set"]))
    return tuple(keys)


def _port_list_key(ports):
    return None if ports is None else tuple((item["protocol"], item.get("port"), item.get("end_port")) for item in ports)


class _PortClasses:
    """The distinct port lists of the clauses, and the port ranges they tell apart.

    A probe's port class is which of those lists admit it: its verdicts depend on nothing else, so
    ports (and protocols) of one class share them. Each protocol's ports split into atoms at every
    range boundary; port_matches is constant on an atom, so any port of it stands for all."""

    def __init__(self, port_lists):
        self.lists = []
        self._index = {}
        bounds = {}
        for ports in port_lists:
            key = _port_list_key(ports)
            if key in self._index:
                continue
            self._index[key] = len(self.lists)
            self.lists.append(ports)
            for protocol, first, end in key or ():
                found = bounds.setdefault(protocol, set())
                if first is not None:
                    found.update((first, (end if end is not None else first) + 1))
        self._bounds = {protocol: sorted(found) for protocol, found in bounds.items()}
        self._classes = {}

    def index(self, ports):
        """The position of a port list (None: every protocol and port) among the distinct ones."""
        return self._index[_port_list_key(ports)]

    def protocols(self):
        """The protocols the clauses name."""
        return sorted(self._bounds)

    def port_class(self, protocol, port):
        """Which port lists admit this protocol and port (None: a protocol without ports)."""
        atom = (protocol, None if port is None else bisect_right(self._bounds.get(protocol, ()), port))
        if atom not in self._classes:
            self._classes[atom] = tuple(port_matches(ports, protocol, port) for ports in self.lists)
        return self._classes[atom]

    def ranges(self, protocol):
        """1-65535 split at every boundary of the protocol's port ranges in the clauses."""
        starts = [FIRST_PORT] + [bound for bound in self._bounds.get(protocol, ()) if FIRST_PORT < bound <= LAST_PORT]
        return [(first, following - 1) for first, following in zip(starts, starts[1:] + [LAST_PORT + 1])]


class _PlanIndex:
    """The plan read once by address: the pod entry at each address of each node (a later entry of
    an address wins, as in NodeView), the nodes owning each address, the peer sets holding it, the
    clause target lists holding each pod, and every clause."""

    def __init__(self, plan):
        check_plan(plan)
        self.entries = {}
        self.owners = {}
        for name, node in plan["nodes"].items():
            self.entries[name] = {canonical_address(ip)[0]: pod for pod in node["pods"] for ip in pod["ips"]}
            for ip in node.get("addresses") or ():
                self.owners.setdefault(canonical_address(ip)[0], set()).add(name)
        self.peer_sets_of = {}
        for set_id, ips in plan["peer_sets"].items():
            for ip in ips:
                self.peer_sets_of.setdefault(canonical_address(ip)[0], []).append(("pods", set_id))
        found = [(policy, direction, clause) for policy, directions in plan["policies"].items()
                 for direction, rules in directions.items() for rule in rules for clause in rule["clauses"]]
        self.ports = _PortClasses(clause.get("ports") for _policy, _direction, clause in found)
        self.blocks = {}
        self.target_lists_of = {}
        self.clauses = [self._clause(policy, direction, clause) for policy, direction, clause in found]

    def _clause(self, policy, direction, clause):
        targets = None if clause.get("targets") is None else frozenset(clause["targets"])
        for key in targets or ():
            self.target_lists_of.setdefault(key, set()).add(targets)
        peers = clause.get("peers")
        for block in (peers or {}).get("ip_blocks") or ():
            self.blocks[_block_key(block)] = block
        return _Clause(policy, direction, targets, _peer_keys(peers), self.ports.index(clause.get("ports")))

    def entry(self, endpoint, address):
        """The pod entry that judges this end at this address: on the node of its pod, else None."""
        if endpoint.pod is None or endpoint.pod.node not in self.entries:
            return None
        return self.entries[endpoint.pod.node].get(address)

    def blocks_holding(self, addresses, family):
        """For each address (canonical text), the keys of the ipBlocks holding it. Found per block by
        range over the sorted addresses, as one block may hold thousands of pod addresses."""
        found = {address: [] for address in addresses}
        numbered = sorted((int.from_bytes(packed_address(address)[1], "big"), address) for address in found)
        numbers = [number for number, _address in numbered]
        for key, block in self.blocks.items():
            for net in block_cidrs(block):
                if net.version == family:
                    first = bisect_left(numbers, int(net.network_address))
                    last = bisect_right(numbers, int(net.broadcast_address))
                    for _number, address in numbered[first:last]:
                        found[address].append(key)
        return found


class _FamilyMatrix:
    """One IP family: its endpoints' profiles and classes, and per port class the bitset rows: for
    each source profile, the destination profiles the policies let it reach (bit i: profile i)."""

    def __init__(self, index, endpoints, family):
        self._ports = index.ports
        addresses = {endpoint: canonical_address(endpoint.ip(family))[0]
                     for endpoint in endpoints if endpoint.ip(family) is not None}
        blocks = index.blocks_holding(addresses.values(), family)
        bits = {}
        placements = {}
        for endpoint, address in addresses.items():
            entry = index.entry(endpoint, address)
            profile = _profile(index, entry, index.peer_sets_of.get(address, []) + blocks[address])
            placements[endpoint] = (bits.setdefault(profile, len(bits)), entry, frozenset(index.owners.get(address, ())))
        self.profiles = list(bits)
        self.classes, self.class_of = _classes(placements, family)
        self._rows = {}
        self.everyone = (1 << len(self.profiles)) - 1
        self._bitsets(index.clauses)

    def _bitsets(self, clauses):
        """Each clause as two bitsets over profiles: the targets it applies to (isolated by its policy
        in its direction, and in its target list if it has one) and the peers it admits."""
        isolated = {}
        in_target_list = {}
        with_peer_key = {}
        self.open_for_ingress = 0
        for bit, profile in enumerate(self.profiles):
            for direction, policies in ((INGRESS, profile.ingress), (EGRESS, profile.egress)):
                for policy in policies:
                    isolated[(policy, direction)] = isolated.get((policy, direction), 0) | 1 << bit
            for targets in profile.target_lists:
                in_target_list[targets] = in_target_list.get(targets, 0) | 1 << bit
            for key in profile.peer_keys:
                with_peer_key[key] = with_peer_key.get(key, 0) | 1 << bit
            if not profile.ingress:
                self.open_for_ingress |= 1 << bit
        self._ingress = []
        self._egress = {}
        for clause in clauses:
            targets = isolated.get((clause.policy, clause.direction), 0)
            if clause.targets is not None:
                targets &= in_target_list.get(clause.targets, 0)
            peers = self.everyone if clause.peer_keys is None else 0
            for key in clause.peer_keys or ():
                peers |= with_peer_key.get(key, 0)
            if clause.direction == INGRESS:
                self._ingress.append((clause, targets))
            else:
                self._egress.setdefault(clause.policy, []).append((clause, targets, peers))

    def rows(self, protocol, port):
        """For each source profile, the bitset of destination profiles it may reach on this port:
        the source's egress admits them, and their ingress admits the source."""
        port_class = self._ports.port_class(protocol, port)
        if port_class not in self._rows:
            by_any, by_key = self._ingress_targets(port_class)
            self._rows[port_class] = [self._reach(bit, profile, port_class) & _admitting(profile, by_any, by_key)
                                      for bit, profile in enumerate(self.profiles)]
        return self._rows[port_class]

    def _reach(self, bit, profile, port_class):
        """The destination profiles a source profile's egress admits."""
        if not profile.egress:
            return self.everyone
        reach = 0
        for policy in profile.egress:
            for clause, targets, peers in self._egress.get(policy, ()):
                if port_class[clause.ports] and targets >> bit & 1:
                    reach |= peers
        return reach

    def _ingress_targets(self, port_class):
        """Who admits a source on this port, gathered once: the profiles open to any source (not
        isolated, or by an any-peer clause), and those a clause opens to each peer key."""
        by_any = self.open_for_ingress
        by_key = {}
        for clause, targets in self._ingress:
            if not port_class[clause.ports]:
                continue
            if clause.peer_keys is None:
                by_any |= targets
            for key in clause.peer_keys or ():
                by_key[key] = by_key.get(key, 0) | targets
        return by_any, by_key


def _profile(index, entry, peer_keys):
    """An end without a pod entry here is isolated by nothing and in no target list."""
    if entry is None:
        return _Profile((), (), frozenset(), frozenset(peer_keys))
    return _Profile(tuple(entry[INGRESS]), tuple(entry[EGRESS]),
                    frozenset(index.target_lists_of.get(entry["pod"], ())), frozenset(peer_keys))


def _classes(placements, family):
    """Endpoints of one profile and placement form a class: (classes, class by endpoint). An end's
    node counts only when some endpoint holds one of that node's addresses: elsewhere it changes no
    verdict, and would only split classes."""
    owning = {node for _bit, _entry, owners in placements.values() for node in owners}
    members = {}
    for endpoint, (bit, entry, owners) in placements.items():
        node = endpoint.pod.node if entry is not None and endpoint.pod.node in owning else None
        members.setdefault((bit, node, owners), []).append(endpoint)
    classes = [EndpointClass(family, bit, node, owners, tuple(endpoints)) for (bit, node, owners), endpoints in members.items()]
    return tuple(classes), {endpoint: found for found in classes for endpoint in found.members}


def _admitting(profile, by_any, by_key):
    """The destination profiles whose ingress admits a source profile: a clause admits it through
    one of its peer keys."""
    found = by_any
    for key in profile.peer_keys:
        found |= by_key.get(key, 0)
    return found


class ClassMatrix:
    """All-pairs verdicts of a plan's endpoints (pods and outside hosts) by equivalence classes.

    Every port class of every protocol the clauses name is worked out here; others (a port-less
    probe, another protocol) on first use."""

    def __init__(self, plan, endpoints):
        index = _PlanIndex(plan)
        self.endpoints = tuple(endpoints)
        self._known = frozenset(self.endpoints)
        self._families = {family: _FamilyMatrix(index, self.endpoints, family) for family in FAMILIES}
        self._ports = index.ports
        for family in FAMILIES:
            for protocol in self._ports.protocols():
                for first, _last in self._ports.ranges(protocol):
                    self._families[family].rows(protocol, first)

    def classes(self, family):
        """The classes of the endpoints that have an address of this family."""
        return self._families[family].classes

    def class_of(self, endpoint, family):
        """The class of an endpoint in a family, or None when it has no address of that family."""
        if endpoint not in self._known:
            raise ValueError("%s is not an endpoint of this class matrix" % endpoint.name)
        return self._families[family].class_of.get(endpoint)

    def profile_count(self, family):
        """How many profiles the bitsets of a family range over."""
        return len(self._families[family].profiles)

    def port_ranges(self, protocol):
        """The port ranges of a protocol that the policies tell apart (1-65535 in all)."""
        return self._ports.ranges(protocol)

    def profile_rows(self, family, protocol, port):
        """For each profile (by index), the bitset of the profiles its policies let it reach."""
        return self._families[family].rows(protocol, port)

    def allowed(self, source_class, destination_class, protocol, port):
        """The verdict for a new connection from any member of one class to any member of the other."""
        if source_class.family != destination_class.family:
            raise ValueError("classes of IPv%d and IPv%d have no connection" % (source_class.family, destination_class.family))
        if node_local(source_class, destination_class):
            return True
        return bool(self.profile_rows(source_class.family, protocol, port)[source_class.profile] >> destination_class.profile & 1)


def class_matrix(cluster, policies, endpoints):
    """The class matrix of a cluster and policy set, from the plan its nodes enforce."""
    return ClassMatrix(build_plan(cluster, policies), endpoints)


@dataclass(frozen=True, eq=False)
class _TableEnd:
    """An endpoint as the table sees it: its class per probe (None without the probe's family), and
    a key that destinations share when every source that is no node's address gives them one verdict."""

    name: str
    is_pod: bool
    classes: tuple
    node_address: bool  # some address of it is a node's own: node placement may decide its pairs
    key: int


class _TableMaker:
    """The rows of a truth table, source by source in name order. A source that is no node's address
    gets its cells from a table by destination key shared with its whole profile, patched towards
    the few node addresses (node placement decides those for it); a node address is asked pair by
    pair."""

    def __init__(self, matrix, endpoints, probes):
        self.probes = sorted(probes, key=lambda probe: (probe.protocol, probe.port))
        self.profile_rows = [matrix.profile_rows(probe.family, probe.protocol, probe.port) for probe in self.probes]
        keys = {}
        ends = []
        for endpoint in endpoints:
            classes = tuple(matrix.class_of(endpoint, probe.family) for probe in self.probes)
            node_address = any(found is not None and found.own_of for found in classes)
            key = ("node address", len(ends)) if node_address else tuple(None if found is None else found.profile for found in classes)
            ends.append(_TableEnd(endpoint.name, endpoint.pod is not None, classes, node_address, keys.setdefault(key, len(keys))))
        self.ends = sorted(ends, key=attrgetter("name"))
        self.pod_ends = [end for end in self.ends if end.is_pod]
        self.node_addresses = [end for end in self.ends if end.node_address]
        self._shared = {}
        self._by_key = [None] * len(keys)  # one end of each key: a source that is no node's address gives them all one verdict
        for end in ends:
            self._by_key[end.key] = end

    def cells(self, source, destination):
        """The (protocol, port) cells of one pair, allowed and denied, in the probes' order."""
        allowed = []
        denied = []
        for probe, rows, source_class, destination_class in zip(self.probes, self.profile_rows, source.classes, destination.classes):
            if source_class is None or destination_class is None:
                continue
            cell = (probe.protocol, probe.port)
            if node_local(source_class, destination_class) or rows[source_class.profile] >> destination_class.profile & 1:
                allowed.append(cell)
            else:
                denied.append(cell)
        return allowed, denied

    def destinations(self, position):
        """Who the source at a position is paired with: not itself, and no outside host with another."""
        if self.ends[position].is_pod:
            return self.ends[:position] + self.ends[position + 1:]
        return self.pod_ends

    def cells_by_key(self, source):
        """The cells towards each destination key, for a source that is no node's address."""
        if source.key not in self._shared:
            self._shared[source.key] = [self.cells(source, destination) for destination in self._by_key]
        found = list(self._shared[source.key])
        for destination in self.node_addresses:
            found[destination.key] = self.cells(source, destination)
        return found

    def add_rows(self, position, allowed, denied):
        """The source's rows, destination by destination in name order. The comprehensions read
        nothing but locals per row: a table of a thousand pods has millions of rows."""
        source = self.ends[position]
        name = source.name
        destinations = self.destinations(position)
        if source.node_address:
            for destination in destinations:
                cells = self.cells(source, destination)
                allowed.extend([name, destination.name, protocol, port] for protocol, port in cells[0])
                denied.extend([name, destination.name, protocol, port] for protocol, port in cells[1])
            return
        cells = self.cells_by_key(source)
        named = [(destination.name, cells[destination.key]) for destination in destinations]
        allowed += [[name, other, protocol, port] for other, (cells_allowed, _denied) in named for protocol, port in cells_allowed]
        denied += [[name, other, protocol, port] for other, (_allowed, cells_denied) in named for protocol, port in cells_denied]


def truth_table(matrix, endpoints, probes, name):
    """explain.truth_table's table, row for row and in its order, from the class matrix: every
    probed pair (no end to itself, no outside host to another, both ends with an address of the
    probe's family) in allowed or denied, rows [source, destination, protocol, port] sorted.
    endpoints: some or all of the matrix's. Rows come out sorted when names are unique."""
    maker = _TableMaker(matrix, endpoints, probes)
    allowed = []
    denied = []
    with without_cycle_collection(collect_after=True):
        for position in range(len(maker.ends)):
            maker.add_rows(position, allowed, denied)
        if len({end.name for end in maker.ends}) < len(maker.ends):
            allowed.sort()
            denied.sort()
    return {"scenario": name, "allowed": allowed, "denied": denied}
