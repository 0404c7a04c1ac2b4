"""DRBD's userland, drop-in, in Python: drbdadm, and an engine that replaces the kernel module."""

PY_VERSION = "0.1.0"
# What `drbdadm --version`-style outputs and the /proc/drbd-format status report.
API_VERSION = 86
