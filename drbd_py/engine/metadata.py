"""A volume's meta-data: the superblock format, the store the engine keeps open while a
disk is attached, and the meta-data commands drbdadm runs itself (create-md, dump-md,
wipe-md, get-gi, show-gi).  Format: docs/drbd-metadata.md.
"""
from __future__ import annotations

import enum
import errno
import fcntl
import io
import os
import stat
import struct
import sys
import zlib
from dataclasses import dataclass, field

from . import activity_log as al
from . import md_layout
from .md_layout import BLOCK, Layout, LayoutError
from .uuids import UUID_JUST_CREATED, GenIds, random_uuid

MD_MAGIC = b"DRBDpyMD"
MD_VERSION = 1
FORMAT_NAME = "py1"
DEFAULT_AL_EXTENTS = 127

# exit codes of drbdmeta that drbdadm passes on
EXIT_CANCELLED = 1
EXIT_NO_MD = 255
EXIT_IN_USE = 20
EXIT_TOO_SMALL = 10
EXIT_REFUSED = 40


class MdFlag(enum.IntFlag):
    """Same bits as DRBD 8's MDF_* flags."""
    CONSISTENT = 1 << 0
    PRIMARY_IND = 1 << 1
    CONNECTED_IND = 1 << 2
    FULL_SYNC = 1 << 3
    WAS_UP_TO_DATE = 1 << 4
    PEER_OUT_DATED = 1 << 5
    CRASHED_PRIMARY = 1 << 6
    AL_CLEAN = 1 << 7


class MetadataError(Exception):
    """A meta-data command failed; `code` is the exit status drbdadm reports, `shown` says
    the explanation was already printed."""

    def __init__(self, message: str, code: int = EXIT_NO_MD, shown: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.shown = shown


_PLACEMENTS = {md_layout.INTERNAL: 0, md_layout.EXTERNAL: 1, md_layout.FLEXIBLE: 2}
_SB = struct.Struct(">8sIIQQQQQQQQQqqQIIIiQ")


@dataclass
class SuperBlock:
    flags: int = 0
    gen: GenIds = field(default_factory=GenIds)
    device_uuid: int = 0
    la_size: int = 0            # last agreed size of the replicated device, bytes
    data_limit: int = 0         # usable bytes of the backing disk
    al_extents: int = DEFAULT_AL_EXTENTS
    md_size: int = 0
    al_rel: int = 0             # AL and bitmap offsets relative to the superblock
    bm_rel: int = 0
    bm_size: int = 0
    placement: int = 0
    index: int = -1
    disk_size: int = 0          # size of the backing disk when the meta-data was written

    def has(self, flag: MdFlag) -> bool:
        return bool(self.flags & flag)

    def encode(self) -> bytes:
        g = self.gen
        fields = (MD_MAGIC, MD_VERSION, 0, self.flags, g.current, g.bitmap, g.history[0],
                  g.history[1], self.device_uuid, self.la_size, self.data_limit, self.md_size,
                  self.al_rel, self.bm_rel, self.bm_size, self.al_extents, BLOCK,
                  self.placement, self.index, self.disk_size)
        raw = bytearray(_SB.pack(*fields).ljust(BLOCK, b"\0"))
        struct.pack_into(">I", raw, 12, zlib.crc32(raw))
        return bytes(raw)

    @classmethod
    def decode(cls, raw: bytes) -> "SuperBlock | None":
        if len(raw) < BLOCK or raw[:8] != MD_MAGIC:
            return None
        values = _SB.unpack_from(raw)
        if values[1] != MD_VERSION:
            return None
        check = bytearray(raw[:BLOCK])
        struct.pack_into(">I", check, 12, 0)
        if zlib.crc32(check) != values[2]:
            return None
        (_, _, _, flags, cur, bm, h0, h1, dev, la, limit, md_size, al_rel, bm_rel, bm_size,
         al_ext, bm_block, placement, index, disk_size) = values
        if bm_block != BLOCK:
            return None
        return cls(flags, GenIds(cur, bm, [h0, h1]), dev, la, limit, al_ext, md_size, al_rel,
                   bm_rel, bm_size, placement, index, disk_size)


def _sb_for(layout: Layout, al_extents: int, disk_size: int) -> SuperBlock:
    return SuperBlock(
        flags=MdFlag.AL_CLEAN, gen=GenIds(), device_uuid=random_uuid(), la_size=0,
        data_limit=layout.data_limit, al_extents=al.clamp_slots(al_extents),
        md_size=layout.md_size, al_rel=layout.al_offset - layout.sb_offset,
        bm_rel=layout.bm_offset - layout.sb_offset, bm_size=layout.bm_size,
        placement=_PLACEMENTS[layout.placement], index=layout.index, disk_size=disk_size)


# --- opening devices ---------------------------------------------------------------------
def _open(path: str, extra: int = 0) -> int:
    """Open a backing or meta device read-write and claim it: block devices with O_EXCL
    (fails while mounted), regular files with an flock (fails while another engine or
    drbdadm holds it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MetadataError(f"{path}: No such file or directory", EXIT_TOO_SMALL)
    flags = os.O_RDWR | os.O_CLOEXEC | extra
    if stat.S_ISBLK(st.st_mode):
        flags |= os.O_EXCL
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.EBUSY:
            raise MetadataError(f"{path}: device is in use (mounted or attached)",
                                EXIT_IN_USE)
        raise MetadataError(f"{path}: {e.strerror}", EXIT_TOO_SMALL)
    if not stat.S_ISBLK(st.st_mode):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise MetadataError(f"Device '{path}' is configured!", EXIT_IN_USE)
    return fd


def _claim(disk: str, meta_disk) -> list[int]:
    """Claim the data disk and, with external meta-data, the meta-disk; the last
    descriptor is the one holding the meta-data."""
    fds = [_open(disk)]
    try:
        if meta_disk not in (md_layout.INTERNAL, None, "") and meta_disk != disk:
            fds.append(_open(meta_disk))
    except BaseException:
        os.close(fds[0])
        raise
    return fds


def _pread(fd: int, length: int, offset: int) -> bytes:
    chunks, done = [], 0
    while done < length:
        data = os.pread(fd, length - done, offset + done)
        if not data:
            break
        chunks.append(data)
        done += len(data)
    return b"".join(chunks).ljust(length, b"\0")


def _pwrite(fd: int, data, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


class MetaStore:
    """The open meta-data of an attached volume.  Meta-data writes use a separate O_DSYNC
    descriptor so that each one is stable when it returns without flushing the data."""

    def __init__(self, layout: Layout, sb: SuperBlock, md_fd: int, lock_fds: list[int]):
        self.layout = layout
        self.sb = sb
        self._fd = md_fd
        self._lock_fds = lock_fds
        self.bm_writes = 0

    @classmethod
    def open(cls, disk: str, meta_disk: str = "internal", meta_index=None) -> "MetaStore":
        fds = _claim(disk, meta_disk)
        try:
            layout, sb = _locate(disk, meta_disk, meta_index, fds[-1])
            md_path = layout.md_path
            md_fd = os.open(md_path, os.O_RDWR | os.O_CLOEXEC | os.O_DSYNC)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return cls(layout, sb, md_fd, fds)

    @property
    def data_fd(self) -> int:
        """Descriptor of the data disk (opened and claimed with the meta-data)."""
        return self._lock_fds[0]

    def close(self) -> None:
        for fd in [self._fd, *self._lock_fds]:
            try:
                os.close(fd)
            except OSError:
                pass
        self._lock_fds = []

    def write_superblock(self) -> None:
        _pwrite(self._fd, self.sb.encode(), self.layout.sb_offset)

    def read_bitmap(self) -> bytes:
        return _pread(self._fd, self.layout.bm_size, self.layout.bm_offset)

    def write_bitmap_pages(self, bitmap, pages) -> None:
        for page in pages:
            offset = page * BLOCK
            if offset >= self.layout.bm_size:
                continue
            _pwrite(self._fd, bitmap.page(page), self.layout.bm_offset + offset)
            self.bm_writes += 1

    def read_al(self) -> al.AlImage:
        raw = _pread(self._fd, md_layout.AL_BYTES, self.layout.al_offset)
        return al.read_image([raw[i:i + BLOCK] for i in range(0, len(raw), BLOCK)])

    def write_al_block(self, physical: int, data: bytes) -> None:
        _pwrite(self._fd, data, self.layout.al_offset + physical * BLOCK)


def _locate(disk: str, meta_disk: str, meta_index, md_fd: int) -> tuple[Layout, SuperBlock]:
    """Find and validate existing meta-data."""
    try:
        layout = md_layout.compute(disk, meta_disk, meta_index)
    except (LayoutError, OSError) as e:
        raise MetadataError(str(e), EXIT_TOO_SMALL)
    sb = SuperBlock.decode(_pread(md_fd, BLOCK, layout.sb_offset))
    if sb is None:
        raise MetadataError("No valid meta data found", EXIT_NO_MD)
    if sb.placement != _PLACEMENTS[layout.placement]:
        raise MetadataError("No valid meta data found (placement differs)", EXIT_NO_MD)
    # trust the recorded geometry: a grown disk must not move the bitmap under us
    layout = Layout(layout.placement, layout.index, layout.md_path,
                    layout.sb_offset + min(sb.al_rel, sb.bm_rel, 0), sb.md_size,
                    layout.sb_offset, layout.sb_offset + sb.al_rel,
                    layout.sb_offset + sb.bm_rel, sb.bm_size, sb.data_limit)
    return layout, sb


# --- the commands drbdadm runs ------------------------------------------------------------
def tty_confirm(question: str, err=None) -> bool:
    """drbdmeta's prompt: only a typed 'yes' on a terminal confirms."""
    err = err or sys.stderr
    if not sys.stdin.isatty():
        err.write("stdin not a TTY, not waiting for confirmation\n")
        return False
    err.write("[need to type 'yes' to confirm] ")
    err.flush()
    answer = sys.stdin.readline()
    err.write("\n")
    return answer.strip() == "yes"


def _confirmed(question: str, force: bool, confirm, err) -> bool:
    err.write(f"\n{question}\n")
    if force:
        err.write("*** confirmation forced via --force option ***\n")
        return True
    if confirm is not None:
        return bool(confirm(question))
    return tty_confirm(question, err)


def _detect_content(head: bytes) -> tuple[str, int] | None:
    """What the start of a device holds: (description, bytes in use or 0), None if zeros."""
    if not any(head):
        return None
    if head[1080:1082] == b"\x53\xef":
        blocks = struct.unpack_from("<I", head, 1028)[0]
        log_bs = struct.unpack_from("<I", head, 1048)[0]
        return "ext2/ext3/ext4 filesystem", blocks * (1024 << min(log_bs, 16))
    if head[:4] == b"XFSB":
        bsize, dblocks = struct.unpack_from(">IQ", head, 4)
        return "xfs filesystem", bsize * dblocks
    if head[4086:4096] in (b"SWAPSPACE2", b"SWAP-SPACE"):
        return "swap space", 0
    if head[0x218:0x21C] == b"LVM2":
        return "LVM2 physical volume signature", 0
    return "some data", 0


def create_md(disk: str, meta_disk: str = "internal", meta_index=None, force: bool = False,
              *, confirm=None, al_extents: int = DEFAULT_AL_EXTENTS, out=None,
              err=None) -> SuperBlock:
    """drbdadm create-md: write fresh meta-data (current UUID "just created", bitmap
    clear, AL empty).  Existing meta-data or data in the way needs confirmation: `force`,
    or `confirm(question) -> bool` (default: a 'yes' typed on the terminal)."""
    out, err = out or sys.stdout, err or sys.stderr
    sb, _ = _write_fresh(disk, meta_disk, meta_index, al_extents, out, err,
                         lambda layout, md_fd: _check_before_create(layout, md_fd, force,
                                                                    confirm, out, err))
    return sb


def _write_fresh(disk: str, meta_disk: str, meta_index, al_extents: int, out, err,
                 check) -> tuple[SuperBlock, object]:
    """Claim the disks, place the meta-data and write them fresh once `check(layout,
    md_fd)` did not raise; returns the superblock and what `check` returned.  Layout
    errors are written to `err` unless it is None."""
    fds = _claim(disk, meta_disk)
    try:
        md_fd = fds[-1]
        try:
            layout = md_layout.compute(disk, meta_disk, meta_index)
        except (LayoutError, OSError) as e:
            if err is not None:
                err.write(f"{e}\n")
            raise MetadataError(str(e), EXIT_TOO_SMALL, shown=err is not None)
        checked = check(layout, md_fd)
        sb = _sb_for(layout, al_extents, md_layout.device_size(disk))
        out.write("Writing meta data...\n")
        _initialize(md_fd, layout, sb, out)
        out.write("New drbd meta data block successfully created.\n")
        return sb, checked
    finally:
        for fd in fds:
            os.close(fd)


def _content(layout: Layout, md_fd: int) -> tuple[str, int] | None:
    """What is where create-md looks: for internal meta-data the data that would be cut
    off is what matters, so the start of the device, as drbdmeta does; for external
    meta-data the start of its area."""
    head = _pread(md_fd, 128 << 10, layout.md_offset if layout.placement !=
                  md_layout.INTERNAL else 0)
    return _detect_content(head)


def _area_is_zero(layout: Layout, md_fd: int) -> bool:
    chunk = 1 << 20
    zero = bytes(chunk)
    for start in range(0, layout.md_size, chunk):
        length = min(chunk, layout.md_size - start)
        if _pread(md_fd, length, layout.md_offset + start) != zero[:length]:
            return False
    return True


def _check_before_create(layout: Layout, md_fd: int, force: bool, confirm, out, err) -> None:
    old = SuperBlock.decode(_pread(md_fd, BLOCK, layout.sb_offset))
    if old is not None:
        if not _confirmed("Valid meta data seems to be in place.\n"
                          "Do you really want to overwrite?", force, confirm, err):
            out.write("Operation cancelled.\n")
            raise MetadataError("Operation cancelled.", EXIT_CANCELLED, shown=True)
        return
    found = _content(layout, md_fd)
    if found is None:
        return
    what, used = found
    out.write(f"md_offset {layout.md_offset}\nal_offset {layout.al_offset}\n"
              f"bm_offset {layout.bm_offset}\n\nFound {what}\n")
    if used:
        if layout.placement != md_layout.INTERNAL:
            out.write("\nThis would corrupt existing data.\n"
                      "If you want me to do this, you need to zero out the first part\n"
                      "of the device (destroy the content).\n"
                      "You should be very sure that you mean it.\nOperation refused.\n\n")
            raise MetadataError("Operation refused.", EXIT_REFUSED, shown=True)
        out.write(f"{-(-used // 1024):12d} kB data area apparently used\n"
                  f"{layout.data_limit // 1024:12d} kB left usable by current configuration\n")
        if used > layout.data_limit:
            out.write("\nDevice size would be truncated, which\n"
                      "would corrupt data and result in\n"
                      "'access beyond end of device' errors.\n"
                      "You need to either\n"
                      "   * use external meta data (recommended)\n"
                      "   * shrink that filesystem first\n"
                      "   * zero out the device (destroy the filesystem)\n"
                      "Operation refused.\n\n")
            raise MetadataError("Operation refused.", EXIT_REFUSED, shown=True)
        out.write("\nEven though it looks like this would place the new meta data into\n"
                  "unused space, you still need to confirm, as this is only a guess.\n")
    else:
        out.write("\n ==> This might destroy existing data! <==\n")
    if not _confirmed("Do you want to proceed?", force, confirm, err):
        out.write("Operation canceled.\n")
        raise MetadataError("Operation canceled.", EXIT_CANCELLED, shown=True)


def auto_create_md(disk: str, meta_disk: str = "internal", meta_index=None,
                   al_extents: int = DEFAULT_AL_EXTENTS) -> str:
    """DRBD 0.7's first attach: no meta-data, so write fresh ones (as create-md does),
    without asking, but only where nothing can be lost.  Returns what was found on the
    disk (for the log); raises MetadataError with EXIT_REFUSED saying what would be
    destroyed otherwise."""
    _, found = _write_fresh(disk, meta_disk, meta_index, al_extents, io.StringIO(), None,
                            _refuse_unless_safe)
    return found


def _refuse_unless_safe(layout: Layout, md_fd: int) -> str:
    """Internal meta-data takes the end of the disk: a file system must end before it,
    anything else must not be there at all.  External meta-data takes its area."""
    usable = layout.data_limit // 1024
    found = _content(layout, md_fd) if layout.placement == md_layout.INTERNAL else None
    if found is not None:
        what, used = found
        if not used:
            raise MetadataError(f"found {what} of unknown extent at the start of the disk; "
                                f"meta-data would take all past {usable} kB", EXIT_REFUSED)
        if used > layout.data_limit:
            raise MetadataError(f"the {what} ({-(-used // 1024)} kB) would be cut off: "
                                f"{usable} kB would be left usable", EXIT_REFUSED)
        return f"{what} of {-(-used // 1024)} kB, which fits in the {usable} kB left usable"
    if not _area_is_zero(layout, md_fd):
        where = "at the end of the disk" if layout.placement == md_layout.INTERNAL else \
            f"in the meta-data area of {layout.md_path}"
        raise MetadataError(f"data found {where} that the meta-data would overwrite",
                            EXIT_REFUSED)
    return "nothing in the way"


def _initialize(md_fd: int, layout: Layout, sb: SuperBlock, out) -> None:
    out.write("initializing activity log\n")
    empty = [al.FREE] * al.SLOTS_PER_BLOCK
    for physical in range(md_layout.AL_BYTES // BLOCK):
        _pwrite(md_fd, al.encode_block(physical // 2, physical & 1, empty[:0]),
                layout.al_offset + physical * BLOCK)
    out.write(f"initializing bitmap ({layout.bm_size // 1024} KB) to all zero\n")
    zero = bytes(1 << 20)
    for start in range(0, layout.bm_size, len(zero)):
        _pwrite(md_fd, zero[:min(len(zero), layout.bm_size - start)], layout.bm_offset + start)
    _pwrite(md_fd, sb.encode(), layout.sb_offset)
    os.fsync(md_fd)


@dataclass
class MetaData:
    """Everything read_md() finds: for dump-md, get-gi and drbdadm's checks."""
    layout: Layout
    sb: SuperBlock
    bitmap: bytes
    al_slots: list[int]

    @property
    def bits_set(self) -> int:
        return int.from_bytes(self.bitmap, "little").bit_count()


def read_md(disk: str, meta_disk: str = "internal", meta_index=None) -> MetaData:
    """Read existing meta-data without claiming the device (works while attached)."""
    paths = [disk] if meta_disk in (md_layout.INTERNAL, None, "") else [meta_disk]
    try:
        fd = os.open(paths[0], os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise MetadataError(f"{paths[0]}: {e.strerror}", EXIT_TOO_SMALL)
    try:
        layout, sb = _locate(disk, meta_disk, meta_index, fd)
        bitmap = _pread(fd, layout.bm_size, layout.bm_offset)
        raw = _pread(fd, md_layout.AL_BYTES, layout.al_offset)
        image = al.read_image([raw[i:i + BLOCK] for i in range(0, len(raw), BLOCK)])
    finally:
        os.close(fd)
    nbytes = -(-layout.bm_bits // 8)
    slots = [e for e in image.slots[:sb.al_extents] if e != al.FREE]
    return MetaData(layout, sb, bitmap[:nbytes], slots)


def wipe_md(disk: str, meta_disk: str = "internal", meta_index=None, force: bool = False,
            *, confirm=None, out=None, err=None) -> None:
    """drbdadm wipe-md: destroy the superblock so the device no longer looks like DRBD's."""
    out, err = out or sys.stdout, err or sys.stderr
    fds = _claim(disk, meta_disk)
    try:
        try:
            layout, _ = _locate(disk, meta_disk, meta_index, fds[-1])
        except MetadataError:
            err.write("There appears to be no drbd meta data to wipe out?\n")
            return
        if not _confirmed("Do you really want to wipe out the DRBD meta data?", force,
                          confirm, err):
            out.write("Operation cancelled.\n")
            raise MetadataError("Operation cancelled.", EXIT_CANCELLED, shown=True)
        out.write("Wiping meta data...\n")
        _pwrite(fds[-1], bytes(BLOCK), layout.sb_offset)
        os.fsync(fds[-1])
        out.write("DRBD meta data block successfully wiped out.\n")
    finally:
        for fd in fds:
            os.close(fd)


def format_gi(sb: SuperBlock) -> str:
    """get-gi: the four identifiers and the flag digits, as drbdmeta prints them."""
    f = sb.flags
    digits = [MdFlag.CONSISTENT, MdFlag.WAS_UP_TO_DATE, MdFlag.PRIMARY_IND,
              MdFlag.CONNECTED_IND, MdFlag.FULL_SYNC, MdFlag.PEER_OUT_DATED,
              MdFlag.CRASHED_PRIMARY]
    return sb.gen.format() + ":" + ":".join("1" if f & d else "0" for d in digits) + "\n"


def format_show_gi(sb: SuperBlock) -> str:
    """show-gi: the same, explained."""
    g = sb.gen
    f = sb.flags
    lines = [
        "",
        "       +--<  Current data generation UUID  >-",
        "       |               +--<  Bitmap's base data generation UUID  >-",
        "       |               |                 +--<  younger history UUID  >-",
        "       |               |                 |         +-<  older history  >-",
        "       V               V                 V         V",
        " ".join(f"{v:016X}" for v in g.as_tuple()) + " " + " ".join(
            "1" if f & d else "0" for d in (MdFlag.CONSISTENT, MdFlag.WAS_UP_TO_DATE,
                                           MdFlag.PRIMARY_IND, MdFlag.CONNECTED_IND,
                                           MdFlag.FULL_SYNC, MdFlag.PEER_OUT_DATED,
                                           MdFlag.CRASHED_PRIMARY)),
        "                                                                    ^ ^ ^ ^ ^ ^ ^",
        "                                      -<  Data consistency flag  >--+ | | | | | |",
        "                             -<  Data was/is currently up-to-date  >--+ | | | | |",
        "                                  -<  Node was/is currently primary  >--+ | | | |",
        "                                  -<  Node was/is currently connected  >--+ | | |",
        "         -<  Node was in the progress of setting all bits in the bitmap  >--+ | |",
        "                        -<  The peer's disk was out-dated or inconsistent  >--+ |",
        "      -<  This node was a crashed primary, and has not seen its peer since   >--+",
        "",
    ]
    return "\n".join(lines) + "\n"


def format_dump(md: MetaData, header: str = "") -> str:
    """dump-md text, shaped like drbdmeta's v08 dump (our format's name is py1)."""
    sb, layout = md.sb, md.layout
    g = sb.gen
    lines = []
    if header:
        lines.append(header.rstrip("\n"))
    lines += [f'version "{FORMAT_NAME}";', "",
              f"# md_size_sect {sb.md_size // 512}",
              f"# md_offset {layout.md_offset}",
              f"# al_offset {layout.al_offset}",
              f"# bm_offset {layout.bm_offset}", "",
              "uuid {",
              "    " + " ".join(f"0x{v:016X};" for v in g.as_tuple()),
              f"    flags 0x{sb.flags:08X};",
              "}",
              f"# al-extents {sb.al_extents};",
              f"la-size-sect {sb.la_size // 512};",
              f"bm-byte-per-bit {BLOCK};",
              f"device-uuid 0x{sb.device_uuid:016X};",
              f"# bm-bytes {layout.bm_size};"]
    lines.append("bm {" + _format_bitmap(md.bitmap))
    lines.append("}")
    lines.append(f"# bits-set {md.bits_set};")
    return "\n".join(lines) + "\n"


def _format_bitmap(bitmap: bytes) -> str:
    """64-bit little-endian words, 4 per line, runs of equal words folded ("N times")."""
    words = [int.from_bytes(bitmap[i:i + 8].ljust(8, b"\0"), "little")
             for i in range(0, len(bitmap), 8)]
    parts: list[str] = []
    i = 0
    line: list[str] = []
    while i < len(words):
        j = i
        while j < len(words) and words[j] == words[i]:
            j += 1
        if j - i > 4:
            if line:
                parts.append("   " + " ".join(line))
                line = []
            parts.append(f"   # at {i * 64 * 4}kB\n    {j - i} times 0x{words[i]:016X};")
            i = j
            continue
        line.append(f"0x{words[i]:016X};")
        if len(line) == 4:
            parts.append("   " + " ".join(line))
            line = []
        i += 1
    if line:
        parts.append("   " + " ".join(line))
    return ("\n" + "\n".join(parts)) if parts else ""
