"""A tiny RGB canvas written as PNG with the standard library (zlib + struct)."""
import struct
import zlib

from .font import GLYPH_H, GLYPH_W, glyph


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


class Canvas:
    def __init__(self, width: int, height: int, background=(255, 255, 255)):
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i:i + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color) -> None:
        """Filled rectangle, corners included, clipped to the canvas."""
        x0, x1 = sorted((int(round(x0)), int(round(x1))))
        y0, y1 = sorted((int(round(y0)), int(round(y1))))
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.width - 1), min(y1, self.height - 1)
        if x0 > x1 or y0 > y1:
            return
        row = bytes(color) * (x1 - x0 + 1)
        for y in range(y0, y1 + 1):
            i = (y * self.width + x0) * 3
            self.pixels[i:i + len(row)] = row

    def hline(self, x0, x1, y, color, width: int = 1) -> None:
        self.rect(x0, y, x1, y + width - 1, color)

    def vline(self, x, y0, y1, color, width: int = 1) -> None:
        self.rect(x, y0, x + width - 1, y1, color)

    def text(self, x: int, y: int, s: str, color=(0, 0, 0), scale: int = 2,
             anchor: str = "left") -> int:
        """Draw `s` with its top at y; anchor left/right/center at x.  Returns its width."""
        width = self.text_width(s, scale)
        if anchor == "right":
            x -= width
        elif anchor == "center":
            x -= width // 2
        for ch in s:
            rows = glyph(ch)
            for gy, bits in enumerate(rows):
                for gx in range(GLYPH_W):
                    if bits & (1 << (GLYPH_W - 1 - gx)):
                        self.rect(x + gx * scale, y + gy * scale,
                                  x + gx * scale + scale - 1, y + gy * scale + scale - 1, color)
            x += (GLYPH_W + 1) * scale
        return width

    @staticmethod
    def text_width(s: str, scale: int = 2) -> int:
        return len(s) * (GLYPH_W + 1) * scale - scale if s else 0

    @staticmethod
    def text_height(scale: int = 2) -> int:
        return GLYPH_H * scale

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(b"\x00" + bytes(self.pixels[y * stride:(y + 1) * stride])
                       for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))

    def save(self, path) -> None:
        with open(path, "wb") as f:
            f.write(self.png())
