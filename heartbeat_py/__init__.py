"""heartbeat v1, drop-in, in Python: the cluster manager and its tools."""

VERSION = "3.0.6"          # the heartbeat release whose behaviour we reproduce
PY_VERSION = "0.1.0"
