"""Running host-side commands for the harness, with one-line errors."""
import subprocess


class ClusterError(RuntimeError):
    """The harness could not build, change or remove part of a cluster."""


def host_run(args, check=True, timeout=30, input=None):
    """Run a host command; on failure raise ClusterError naming it and its stderr."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"{' '.join(args)}: no answer within {timeout}s") from exc
    if check and proc.returncode != 0:
        raise ClusterError(f"{' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc
