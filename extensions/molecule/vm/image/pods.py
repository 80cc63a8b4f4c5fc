"""Pods of a scenario VM: network namespaces on the node's bridge, each with the lab's agent.

What a CNI plugin and the kubelet do on a real node, reduced to what the probes need. Baked into
the image by scripts/vm-image as /usr/local/lib/kubenet-vm/pods.py, beside the netns lab's
agent.py and probe_client.py; run as `python3 -I pods.py COMMAND`.
  install   read the node's pod layout (JSON) on stdin, keep it, start the pods unit
  up        build the bridge, the pods, their agents and the routes to the other nodes (the unit)
  probe     read {"jobs": {netns: [probe, ...]}, "timeouts": {...}} on stdin, probe from every
            netns at once with probe_client.py, print {"outcomes": {netns: [outcome, ...]}}
"""

import json
import os
import subprocess
import sys
import time

CONFIG = "/etc/kubenet-vm/pods.json"
UNIT = "kubenet-vm-pods.service"
LIB = "/usr/local/lib/kubenet-vm"
RUN = "/run/kubenet-vm"
BRIDGE = "cbr0"
AGENT_START_SECONDS = 60


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


def install():
    layout = json.load(sys.stdin)
    os.makedirs(os.path.dirname(CONFIG), exist_ok=True)
    with open(CONFIG + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(layout, handle)
    os.replace(CONFIG + ".tmp", CONFIG)
    subprocess.run(["systemctl", "start", UNIT], check=True)


def start_agent(pod):
    """The agent answers every probed port on the pod's address with the pod's name."""
    pidfile = os.path.join(RUN, pod["netns"] + ".pid")
    command = ["ip", "netns", "exec", pod["netns"], sys.executable, "-I", os.path.join(LIB, "agent.py"),
               "--name", pod["name"], "--pidfile", pidfile, "--ip", pod["ip"]]
    for protocol in ("tcp", "udp", "sctp"):
        command += ["--" + protocol, ",".join(str(port) for port in pod["ports"].get(protocol.upper(), ()))]
    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    return pidfile


def up():
    with open(CONFIG, encoding="utf-8") as handle:
        layout = json.load(handle)
    os.makedirs(RUN, exist_ok=True)
    subprocess.run(["modprobe", "-q", "sctp"], check=False)  # the SCTP probes' sockets
    with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as handle:
        handle.write("1\n")
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", layout["gateway"], "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    gateway = layout["gateway"].split("/")[0]
    pidfiles = []
    for pod in layout["pods"]:
        ip("netns", "add", pod["netns"])
        ip("link", "add", pod["link"], "type", "veth", "peer", "name", "eth0", "netns", pod["netns"])
        ip("link", "set", pod["link"], "master", BRIDGE, "up")
        ip("-n", pod["netns"], "link", "set", "lo", "up")
        ip("-n", pod["netns"], "addr", "add", pod["ip"] + "/" + layout["gateway"].split("/")[1], "dev", "eth0")
        ip("-n", pod["netns"], "link", "set", "eth0", "up")
        ip("-n", pod["netns"], "route", "add", "default", "via", gateway)
        pidfiles.append(start_agent(pod))
    for cidr, via in layout["routes"]:
        ip("route", "replace", cidr, "via", via)
    deadline = time.monotonic() + AGENT_START_SECONDS
    while not all(os.path.exists(path) for path in pidfiles):
        if time.monotonic() > deadline:
            sys.exit("pods.py: agents not listening after %d s" % AGENT_START_SECONDS)
        time.sleep(0.1)


def probe():
    request = json.load(sys.stdin)
    clients = {}
    for netns, items in request["jobs"].items():
        clients[netns] = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-I", os.path.join(LIB, "probe_client.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        clients[netns].stdin.write(json.dumps({"probes": items, "timeouts": request["timeouts"]}))
        clients[netns].stdin.close()
    outcomes = {}
    for netns, client in clients.items():
        output = client.stdout.read()
        if client.wait() != 0:
            sys.exit("pods.py: probe_client failed in %s" % netns)
        outcomes[netns] = json.loads(output)["outcomes"]
    json.dump({"outcomes": outcomes}, sys.stdout)


if __name__ == "__main__":
    {"install": install, "up": up, "probe": probe}[sys.argv[1]]()
