"""A minimal syslog receiver for one node: /dev/log in, one line per message out.

    python3 syslogd.py OUTFILE

Each line is `FACILITY.SEVERITY MESSAGE`, e.g.
`local0.info Nov 25 07:40:04 heartbeat: [812]: info: Link beta:eth0 up.`,
so tests can check both where a daemon logged (`logfacility`) and what.
The node's /dev is private, so its /dev/log is its own.
"""
import os
import socket
import sys

FACILITIES = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
              "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
              "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]
SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]


def render(datagram):
    """'<134>text' -> 'local0.info text' (no or bad priority: 'user.notice')."""
    text = datagram.decode(errors="replace").rstrip("\n\0")
    pri = 13
    if text.startswith("<") and ">" in text[:5] and text[1:text.index(">")].isdigit():
        pri, text = int(text[1:text.index(">")]), text[text.index(">") + 1:]
    facility = FACILITIES[pri >> 3] if pri >> 3 < len(FACILITIES) else str(pri >> 3)
    return f"{facility}.{SEVERITIES[pri & 7]} {text}"


def main():
    out_path = sys.argv[1]
    if os.path.lexists("/dev/log"):
        os.unlink("/dev/log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    os.chmod("/dev/log", 0o666)
    with open(out_path, "a", buffering=1) as out:
        while True:
            out.write(render(sock.recv(65536)) + "\n")


if __name__ == "__main__":
    main()
