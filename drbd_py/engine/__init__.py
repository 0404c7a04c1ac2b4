"""The DRBD engine: the userspace daemon that replaces DRBD's kernel module.

engine.py / daemon.py / control.py   the daemon, its steps, its control socket
client.py / setup_cli.py             what drbdadm and drbdsetup-py use to reach it
resource.py / volume.py              a resource's state and a volume's disk and I/O path
states.py                            DRBD's states and state-change rules
link.py / channel.py / wire.py       the replication connection (docs/drbd-link.md)
session.py / negotiate.py            after the handshake: sync handshake, split brain
resync.py                            resync and online verify
metadata.py / md_layout.py           on-disk meta-data (docs/drbd-metadata.md)
uuids.py / bitmap.py / activity_log.py   generation ids, out-of-sync bitmap, AL
proc_status.py / enginelog.py        the /proc/drbd-style status file, the log
nbd*.py                              the NBD server the volumes are served with
"""
