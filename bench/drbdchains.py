"""DRBD resources (protocols A, B, C) as block-I/O chains: our engine on two nodes."""
import importlib.util

LABELS = {"drbd_A": "DRBD protocol A", "drbd_B": "DRBD protocol B", "drbd_C": "DRBD protocol C"}


def engine_missing() -> str:
    try:
        found = importlib.util.find_spec("drbd_py.engine.daemon")
    except ImportError as exc:
        return f"drbd_py.engine.daemon cannot be imported ({exc})"
    return "" if found else "our DRBD engine daemon (drbd_py.engine.daemon) has not landed yet"


def make(ctx, c):
    """([chains], {name: why not}) for protocols A, B and C."""
    why = engine_missing()
    if why:
        return [], {name: why for name in LABELS}
    return [], {name: "not wired into the benchmark yet" for name in LABELS}
