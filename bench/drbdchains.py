"""DRBD resources (protocols A, B, C) as block-I/O chains: our engine on two nodes."""
from . import drbdpair
from .chains import Chain
from .repeat import one_line

LABELS = {"drbd_A": "DRBD protocol A", "drbd_B": "DRBD protocol B", "drbd_C": "DRBD protocol C"}


class DrbdChain(Chain):
    def __init__(self, res, cluster, last):
        self.res, self.cluster, self.last = res, cluster, last
        self.name, self.label = f"drbd_{res.protocol}", LABELS[f"drbd_{res.protocol}"]

    def setup(self) -> str:
        return f"/dev/drbd{self.res.minor}"

    def teardown(self) -> None:
        if self.last:
            drbdpair.down(self.cluster)


def make(ctx, c, disk_size: str):
    """([chains], {name: why not}) for protocols A, B and C, all up and in sync."""
    why = drbdpair.engine_missing()
    if why:
        return [], {name: why for name in LABELS}
    resources = [drbdpair.Res(f"r{i}", i, p, 7788 + i) for i, p in enumerate("ABC", start=1)]
    try:
        drbdpair.setup(c, resources, disk_size)
    except Exception as exc:
        drbdpair.down(c)
        return [], {name: f"set-up failed: {one_line(exc)}" for name in LABELS}
    return [DrbdChain(r, c, i == len(resources) - 1) for i, r in enumerate(resources)], {}
