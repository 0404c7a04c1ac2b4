"""The long-lived process that holds one node's namespaces.

Run by the harness as
    ip netns exec NS unshare --uts --mount --propagation private python3 holder.py SPEC
so it starts in the node's network namespace with a fresh UTS and a private
mount namespace (in which `ip netns exec` already mounted a /sys that shows
the node's interfaces).  It builds the node's file system view, prints
READY, and lives until its stdin closes: if the test process dies, so does
the holder.  Everything the node sees is entered with `nsenter -t HOLDER`.

Standard library only: it runs before (and apart from) the project's code.
"""
import json
import os
import socket
import subprocess
import sys

# /run entries not carried into a node: the host's namespaces and sessions.
RUN_SKIP = {"netns", "user", "systemd"}


def mount(*args):
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"mount {' '.join(args)}: {proc.stderr.strip()}")


def run_skeleton(depth=3):
    """The folders and symlinks under the host's /run, as a freshly booted
    machine would have them (tmpfiles.d made them), without their files."""
    entries = []
    for top, dirs, _files in os.walk("/run"):
        rel = os.path.relpath(top, "/run")
        level = 0 if rel == "." else rel.count("/") + 1
        if level == 0:
            dirs[:] = [d for d in dirs if d not in RUN_SKIP]
        if level >= depth:
            dirs[:] = []
        for name in sorted(os.listdir(top)):
            path = os.path.join(top, name)
            if level == 0 and name in RUN_SKIP:
                continue
            st = os.lstat(path)
            if os.path.islink(path):
                entries.append(("link", path, os.readlink(path), 0, 0, 0))
            elif os.path.isdir(path) and level < depth:
                entries.append(("dir", path, "", st.st_mode & 0o7777, st.st_uid, st.st_gid))
    return entries


def rebuild(entries):
    for kind, path, target, mode, uid, gid in entries:
        if kind == "link":
            os.symlink(target, path)
        else:
            os.makedirs(path, exist_ok=True)
            os.chown(path, uid, gid)
            os.chmod(path, mode)


def build(spec):
    socket.sethostname(spec["hostname"])
    skeleton = run_skeleton()
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    rebuild(skeleton)
    os.makedirs("/run/lock", mode=0o1777, exist_ok=True)
    os.chmod("/run/lock", 0o1777)
    # The overlay hides /dev/pts; park it in /run and move it back on top.
    parked = "/run/.hbt-pts"
    os.mkdir(parked)
    mount("--bind", "/dev/pts", parked)
    mount("-t", "overlay", "overlay", "-o",
          f"lowerdir=/dev,upperdir={spec['dev_upper']},workdir={spec['dev_work']}", "/dev")
    mount("--move", parked, "/dev/pts")
    os.rmdir(parked)
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/dev/shm")
    # Lets the harness abort a hung FUSE connection of this node.
    if os.path.isdir("/sys/fs/fuse/connections"):
        mount("-t", "fusectl", "fusectl", "/sys/fs/fuse/connections")
    for src, dst in spec["binds"]:
        mount("--bind", src, dst)


def main():
    spec = json.loads(sys.argv[1])
    try:
        build(spec)
    except (OSError, RuntimeError) as exc:
        print(f"holder: {spec.get('hostname')}: {exc}", file=sys.stderr, flush=True)
        return 1
    print("READY", flush=True)
    # Live until the harness closes our stdin (or dies).
    while sys.stdin.buffer.read(4096):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
