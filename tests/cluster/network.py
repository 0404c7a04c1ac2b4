"""The wire between nodes: a bridge in a namespace of its own, one veth per
node (named eth0 inside the node), and partitions as nftables drops.

A partition between A and B drops, on ingress in BOTH nodes, every frame
whose source MAC is the other's: a rule in one node alone would still let
that node's broadcasts and ARP reach the other.
"""
import ipaddress
from dataclasses import dataclass, field

from .shell import host_run

SUBNET = ipaddress.ip_network("192.0.2.0/24")
BRIDGE = "br0"
CUT_TABLE = "hbt_cut"


def mac_for(ip):
    """A stable locally administered MAC derived from the node's address."""
    last = int(ipaddress.ip_address(ip)) & 0xFF
    return f"02:00:c0:00:02:{last:02x}"


def check_address(ip):
    if ipaddress.ip_address(ip) not in SUBNET:
        raise ValueError(f"{ip}: test nodes live in {SUBNET} only")


def sysctl_quiet(ns):
    # No IPv6: the legacy stack is IPv4 only, and DAD/RS frames are noise in captures.
    host_run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
              "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])


def create_bridge(ns):
    host_run(["ip", "netns", "add", ns])
    sysctl_quiet(ns)
    # No STP delay and no multicast snooping: heartbeat's mcast must flood
    # like on a dumb hub, with no IGMP querier around.
    host_run(["ip", "-n", ns, "link", "add", BRIDGE, "type", "bridge",
              "forward_delay", "0", "stp_state", "0", "mcast_snooping", "0"])
    host_run(["ip", "-n", ns, "link", "set", BRIDGE, "up"])
    host_run(["ip", "-n", ns, "link", "set", "lo", "up"])


def wire_node(bridge_ns, port, node_ns, ip, mac, ifname="eth0"):
    """Create the veth pair: `ifname` with `ip`/24 in the node, `port` on the bridge."""
    host_run(["ip", "-n", bridge_ns, "link", "add", port, "type", "veth",
              "peer", "name", ifname, "netns", node_ns])
    host_run(["ip", "-n", bridge_ns, "link", "set", port, "master", BRIDGE, "up"])
    host_run(["ip", "-n", node_ns, "link", "set", "lo", "up"])
    host_run(["ip", "-n", node_ns, "link", "set", ifname, "address", mac])
    add_address(node_ns, ip, ifname)
    host_run(["ip", "-n", node_ns, "link", "set", ifname, "up"])


def add_address(node_ns, ip, ifname="eth0"):
    host_run(["ip", "-n", node_ns, "addr", "add", f"{ip}/{SUBNET.prefixlen}",
              "brd", "+", "dev", ifname])


def reset_addresses(node_ns, ip, ifname="eth0"):
    """Back to the boot-time configuration: only `ip` on `ifname` (a VIP a
    killed daemon left behind goes, as with a reboot), no learned neighbours,
    no routes but the connected one."""
    host_run(["ip", "-n", node_ns, "addr", "flush", "dev", ifname])
    host_run(["ip", "-n", node_ns, "neigh", "flush", "dev", ifname])
    host_run(["ip", "-n", node_ns, "route", "flush", "table", "main"])
    add_address(node_ns, ip, ifname)


@dataclass
class Cuts:
    """The MACs a node currently drops on ingress (its side of partitions)."""
    ns: str
    ifname: str = "eth0"
    macs: set = field(default_factory=set)

    def apply(self):
        """Replace the node's drop table in one nft transaction."""
        script = [f"table netdev {CUT_TABLE}", f"delete table netdev {CUT_TABLE}"]
        if self.macs:
            elements = ", ".join(sorted(self.macs))
            script += [
                f"table netdev {CUT_TABLE} {{",
                f"  chain ingress {{ type filter hook ingress device \"{self.ifname}\" priority -500; policy accept;",
                f"    ether saddr {{ {elements} }} counter drop",
                "  }",
                "}",
            ]
        host_run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input="\n".join(script) + "\n")
