"""What machine the figures were taken on."""
import os
import platform
import shutil
import subprocess


def _first(path: str, prefix: str) -> str:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _cmd(argv: list[str]) -> str:
    if not shutil.which(argv[0]):
        return ""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""


def _package(name: str) -> str:
    return _cmd(["dpkg-query", "-W", "-f", "${Version}", name]) or "not installed"


def describe() -> dict[str, str]:
    """Facts a reader needs to compare figures between machines."""
    mem_kib = _first("/proc/meminfo", "MemTotal").split()[0]
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        debian = "?"
    try:
        with open("/etc/os-release") as f:
            pretty = next((line.split("=", 1)[1].strip().strip('"') for line in f
                           if line.startswith("PRETTY_NAME=")), "?")
    except OSError:
        pretty = "?"
    return {
        "cpus": f"{os.cpu_count()} ({_first('/proc/cpuinfo', 'model name')})",
        "memory": f"{int(mem_kib) / 1024 / 1024:.1f} GiB" if mem_kib.isdigit() else "?",
        "kernel": platform.release(),
        "os": f"{pretty} (debian_version {debian})",
        "virtualization": _cmd(["systemd-detect-virt"]) or "unknown",
        "python": platform.python_version(),
        "heartbeat (reference)": _package("heartbeat"),
        "fio": _package("fio"),
        "nbdkit": _package("nbdkit"),
        "libnbd-bin (nbdfuse)": _package("libnbd-bin"),
    }
