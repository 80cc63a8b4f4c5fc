"""Real SSH into every lab node: a key pair per run, one sshd per node netns, an Ansible inventory.

Nodes share the filesystem, so each sshd has its own config, host key, pid file and authorized
key under the node's directory, and each node gets its own netpol_state_dir.
"""

import os
import sys

import yaml

from netpol_lab.netns import in_netns, run_all, wait_for_files

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"
READY_TIMEOUT = 10.0


def _keygen(path, comment):
    return ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]


def _config(node):
    """sshd_config for one node: listens on its underlay addresses only; root by key only."""
    lines = ["Port %d" % node.ssh_port]
    lines.extend("ListenAddress %s" % (address if ":" not in address else "[%s]" % address) for address in node.addresses)
    lines.extend([
        "HostKey %s" % os.path.join(node.dir, "ssh_host_ed25519_key"),
        "PidFile %s" % os.path.join(node.dir, "sshd.pid"),
        "AuthorizedKeysFile %s" % os.path.join(node.dir, "authorized_keys"),
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # The run dir lives under /tmp (world-writable): StrictModes would refuse the key.
        "StrictModes no",
        "UseDNS no",
        # Nodes share root's home with the host. bash started by sshd sources ~/.bashrc unless SHLVL says
        # it is nested; a heavy .bashrc (pyenv init) would cost a quarter second per Ansible task.
        "SetEnv SHLVL=1",
        "Subsystem sftp internal-sftp",
    ])
    return "\n".join(lines) + "\n"


def prepare(lab):
    """Key pair, host keys, configs and authorized keys for every node."""
    os.makedirs(os.path.dirname(lab.ssh_key), mode=0o700, exist_ok=True)
    commands = [_keygen(lab.ssh_key, "netpol-lab " + lab.run)]
    for node in lab.nodes:
        os.makedirs(node.state_dir, mode=0o700, exist_ok=True)
        commands.append(_keygen(os.path.join(node.dir, "ssh_host_ed25519_key"), "%s %s" % (lab.run, node.name)))
        with open(os.path.join(node.dir, "sshd_config"), "w", encoding="utf-8") as handle:
            handle.write(_config(node))
    run_all(commands)
    with open(lab.ssh_key + ".pub", encoding="utf-8") as handle:
        public = handle.read()
    for node in lab.nodes:
        with open(os.path.join(node.dir, "authorized_keys"), "w", encoding="utf-8") as handle:
            handle.write(public)


def start(lab):
    """Start every node's sshd in its netns; return once each one listens (its pid file exists)."""
    os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
    commands = [in_netns(node.netns, [SSHD, "-f", os.path.join(node.dir, "sshd_config"),
                                      "-E", os.path.join(node.dir, "sshd.log")]) for node in lab.nodes]
    run_all(commands)  # sshd forks into the background, then listens, then writes its pid file
    logs = {os.path.join(node.dir, "sshd.pid"): os.path.join(node.dir, "sshd.log") for node in lab.nodes}
    wait_for_files(pidfiles(lab), READY_TIMEOUT, logs)


def pidfiles(lab):
    return [os.path.join(node.dir, "sshd.pid") for node in lab.nodes]


def inventory(lab):
    """The inventory the enforce playbook runs with, from inside the underlay netns."""
    hosts = {}
    for node in lab.nodes:
        hosts[node.name] = {
            "ansible_host": node.addresses[0],
            "ansible_port": node.ssh_port,
            "netpol_node_name": node.name,
            "netpol_state_dir": node.state_dir,
            # Lab nodes share the host's filesystem: a run with netpol_persist keeps each node's boot state apart.
            "netpol_persist_dir": os.path.join(node.dir, "persist"),
            "netpol_persist_unit_dir": os.path.join(node.dir, "units"),
        }
    return {"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
        "children": {"netpol_nodes": {
            "hosts": hosts,
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": lab.ssh_key,
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                # Every run has the same node addresses: never reuse another run's SSH master.
                "ansible_control_path_dir": os.path.join(lab.run_dir, "cp"),
                "netpol_install_packages": False,
            },
        }},
    }}


def write_inventory(lab):
    with open(lab.inventory, "w", encoding="utf-8") as handle:
        handle.write("# netpol-lab %s: use from the underlay netns: ip netns exec %s ansible-playbook -i %s ...\n"
                     % (lab.run, lab.underlay, lab.inventory))
        yaml.safe_dump(inventory(lab), handle, sort_keys=False, default_flow_style=False)
