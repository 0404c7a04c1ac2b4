"""Powering nodes off: what teardown and Node.reboot() share.

Order matters: look for the nodes' loop devices, stop their processes,
look again, end the holders (their mount namespaces go, and with them every
mount in them), then detach the loops.
"""
from . import procs, storage


def owned_loops(nodes, root, errors):
    """{loop device: attachment} for the loops over a file in the nodes' own
    mounts or under `root`.

    Call both before and after the processes stop: a loop over a FUSE file
    cannot be traced once the FUSE daemon is dead (stat fails), and one made
    while stopping is only seen after.
    """
    live = [n for n in nodes if n.holder is not None and n.holder.poll() is None]
    devs = set()
    for n in live:
        try:
            devs |= storage.private_devs(n.holder.pid)
        except OSError as exc:
            errors.append(f"{n.name}: mount table: {exc}")
    return storage.owned_loops(devs, storage.files_under(root), (f"{root}/",),
                               [n.holder.pid for n in live])


def stop_processes(nodes, grace, rounds=3):
    """SIGTERM (unless grace is 0) then SIGKILL the nodes' processes, all
    nodes at once; FUSE connections are aborted when some do not exit in
    time (a process blocked on a dead FUSE daemon).  Returns errors."""
    live = [n for n in nodes if n.holder is not None and n.holder.poll() is None]

    def abort_fuse():
        for n in live:
            storage.abort_fuse(n.holder.pid, storage.fuse_connections(n.holder.pid))

    # Repeat: a dying daemon may still fork a child into the node.
    for _ in range(rounds):
        pids = [pid for n in live for pid in n.pids()]
        if not pids:
            break
        stuck = procs.terminate(pids, grace=grace, on_stuck=abort_fuse)
        for n in live:
            n.reap()
        if stuck:
            return [f"processes that ignore SIGKILL: {stuck}"]
    abort_fuse()
    left = [pid for n in live for pid in n.pids()]
    return [f"processes still running: {left}"] if left else []


def power_off(nodes, root, grace, keep_loops=()):
    """Stop everything running in `nodes` and detach their loop devices
    (except `keep_loops`).  Every step runs even if one fails; returns the
    errors as strings."""
    errors = []

    def step(what, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # one broken step must not stop the others
            errors.append(f"{what}: {exc!r}")
            return None

    loops = step("finding loops", owned_loops, nodes, root, errors) or {}
    errors += step("stopping processes", stop_processes, nodes, grace) or []
    loops.update(step("finding loops", owned_loops, nodes, root, errors) or {})
    for n in nodes:
        step(f"{n.name}: holder", n.stop_holder)
    mine = {loop: which for loop, which in loops.items() if loop not in keep_loops}
    stuck = step("detaching loops", storage.detach_loops, mine)
    if stuck:
        errors.append(f"loop devices still attached: {' '.join(stuck)}")
    return errors
