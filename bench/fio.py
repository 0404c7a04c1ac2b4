"""fio jobs against a block device, and what we read from its JSON output."""
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str           # key: "seq4k", "rand4k_qd1"
    label: str
    rw: str             # "write" or "randwrite"
    bs: str
    iodepth: int


SEQ_SIZES = ["4k", "16k", "64k", "256k", "1M"]
JOBS = ([Job(f"seq{bs}", f"sequential {bs} O_DIRECT writes", "write", bs, 1) for bs in SEQ_SIZES]
        + [Job("rand4k_qd1", "4 KiB random writes, iodepth 1", "randwrite", "4k", 1),
           Job("rand4k_qd32", "4 KiB random writes, iodepth 32", "randwrite", "4k", 32)])


@dataclass
class Result:
    mb_s: float         # 10^6 bytes per second
    iops: float
    p50_us: float       # completion latency percentiles
    p99_us: float
    p999_us: float


def argv(job: Job, device: str, seconds: float, size: str) -> list[str]:
    return ["fio", "--name", job.name, "--filename", device, "--rw", job.rw, "--bs", job.bs,
            "--iodepth", str(job.iodepth), "--ioengine", "libaio", "--direct", "1",
            "--size", size, "--time_based", "--runtime", f"{seconds:g}",
            "--ramp_time", "0.5", "--randrepeat", "0", "--norandommap",
            "--group_reporting", "--output-format", "json"]


def parse(text: str) -> Result:
    data = json.loads(text[text.index("{"):])
    w = data["jobs"][0]["write"]
    pct = w.get("clat_ns", {}).get("percentile", {})

    def us(key):
        return pct.get(key, 0) / 1000.0
    return Result(w["bw_bytes"] / 1e6, w["iops"], us("50.000000"), us("99.000000"),
                  us("99.900000"))
