"""A truth table as a grid a person can read at a glance."""


def render_grid(table, endpoints):
    """One grid per probe: sources down, destinations across; '.' allowed, 'X' denied."""
    verdicts = {}
    probes = []
    for verdict, rows in (("allowed", table["allowed"]), ("denied", table["denied"])):
        for source, destination, protocol, port in rows:
            verdicts[(source, destination, protocol, port)] = verdict
            if (protocol, port) not in probes:
                probes.append((protocol, port))
    width = max([len(name) for name in endpoints] + [4])
    lines = []
    for protocol, port in sorted(probes):
        lines.append("%s/%d   ('.' allowed, 'X' denied, '-' not probed)" % (protocol, port))
        lines.append(" " * (width + 1) + " ".join(str(index).rjust(2) for index in range(len(endpoints))))
        for row, source in enumerate(endpoints):
            cells = []
            for destination in endpoints:
                verdict = verdicts.get((source, destination, protocol, port))
                cells.append({"allowed": ".", "denied": "X"}.get(verdict, "-").rjust(2))
            lines.append("%s %s   %d" % (source.ljust(width), " ".join(cells), row))
        lines.append("")
    lines.append("columns: " + ", ".join("%d=%s" % (index, name) for index, name in enumerate(endpoints)))
    return "\n".join(lines)
