"""Block devices to benchmark, each built inside a test node: the kernel alone
(a loop device on a file), the reference chain (nbdkit file -> nbdfuse -> loop),
our NBD server on a file through the same device layer, and DRBD resources."""
import os
import re
import sys
import time

from .context import project_root


class Chain:
    name = ""
    label = ""

    def setup(self) -> str:
        """Build it; returns the block device path inside the node."""
        raise NotImplementedError

    def teardown(self) -> None:
        pass


def preallocated(path, size: int) -> str:
    """A file of `size` bytes, fully written (no allocation during the runs)."""
    with open(path, "wb") as f:
        chunk = b"\0" * (1 << 20)
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return str(path)


def wait_for(cond, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not ready after {seconds:.0f} s")


class KernelLoop(Chain):
    name, label = "loop", "kernel loop on a file"

    def __init__(self, node, image):
        self.node, self.image, self.dev = node, image, None

    def setup(self) -> str:
        self.dev = self.node.run(["losetup", "--direct-io=on", "--find", "--show",
                                  self.image]).stdout.strip()
        return self.dev

    def teardown(self) -> None:
        if self.dev:
            self.node.run(["losetup", "-d", self.dev], check=False)


class FuseChain(Chain):
    """An NBD server on a unix socket, shown by nbdfuse as a file, served by a loop
    device with direct I/O: the path our device layer takes on kernels without nbd."""
    name, label = "nbdkit", "nbdkit file chain"

    def __init__(self, node, image, tag):
        self.node, self.image = node, image
        self.dir = f"/run/bench-{tag}"
        self.server = self.fuse = self.dev = None

    def server_argv(self, sock: str) -> list[str]:
        return ["nbdkit", "-f", "-U", sock, "file", f"file={self.image}"]

    def setup(self) -> str:
        sock, mnt = f"{self.dir}/nbd.sock", f"{self.dir}/fuse"
        self.node.run(["mkdir", "-p", mnt])
        self.server = self.node.spawn(self.server_argv(sock))
        wait_for(lambda: self.node.exists(sock) or not self.server.alive(), 20, "NBD server")
        if not self.server.alive():
            raise RuntimeError(f"NBD server died: {self.server.output()[-300:]}")
        self.fuse = self.node.spawn(["nbdfuse", "-P", f"{self.dir}/fuse.pid", mnt,
                                     "--unix", sock])
        wait_for(lambda: self.node.exists(f"{self.dir}/fuse.pid") or not self.fuse.alive(),
                 20, "nbdfuse")
        self.dev = self.node.run(["losetup", "--direct-io=on", "--find", "--show",
                                  f"{mnt}/nbd"]).stdout.strip()
        return self.dev

    def teardown(self) -> None:
        if self.dev:
            self.node.run(["losetup", "-d", self.dev], check=False)
        if self.fuse:
            self.node.run(["fusermount3", "-u", f"{self.dir}/fuse"], check=False)
            self.fuse.signal()
        if self.server:
            self.server.signal()


class OursFile(Chain):
    """Our NBD server with its file backend behind our device layer (no replication):
    `python -m drbd_py.device.standalone`."""
    name, label = "ours_file", "ours: NBD server + file, no replication"

    def __init__(self, node, image):
        self.node, self.image, self.proc = node, image, None

    def setup(self) -> str:
        self.proc = self.node.spawn([sys.executable, "-m", "drbd_py.device.standalone",
                                     "--rundir=/run/bench-ours", "7", "/dev/drbd7", self.image],
                                    cwd=str(project_root()))

        def attached():
            m = re.search(r"^attached (\S+) (\S+)", self.proc.output(), re.M)
            if not self.proc.alive():
                raise RuntimeError(f"standalone died: {self.proc.output()[-300:]}")
            if "error:" in self.proc.output():
                raise RuntimeError(self.proc.output()[-300:])
            return m and m.group(1)
        return wait_for(attached, 30, "drbd_py.device.standalone")

    def teardown(self) -> None:
        if self.proc and self.proc.alive():
            self.proc.signal()
            try:
                self.proc.wait(30)
            except Exception:
                pass
