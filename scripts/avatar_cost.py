#!/usr/bin/env python
"""
`make avatar-cost`: the memory and CPU one avatar upload costs, for the worst image of
each format the code accepts.

An attacker sends a small file with as many pixels as the limit allows, so each image
here is the largest accepted pixel count (a square at the pixel limit) with almost
uniform content: a few kilobytes on the wire, the full cost in the worker. Each format is
tried in its most expensive modes (PNG at 16 bits per channel, interlaced, palette; JPEG
baseline, progressive, CMYK and EXIF-rotated; WebP lossy, with alpha, lossless).

Each image is judged by the real `accounts.avatars.avatar_clean` in a fresh child
process with Django set up, so one image's memory never hides another's. The child
resets its peak RSS (`/proc/self/clear_refs`), runs `avatar_clean` once, and reports the
growth of VmHWM over the RSS before the call and the CPU time (user + system) the call
took. Nothing is stored and no database is used.

    python scripts/avatar_cost.py [--pixels N] [--only NAME] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


# --- Images ----------------------------------------------------------------------------


def _speckled(mode: str, size: tuple[int, int]) -> Any:
    """A flat image with a few hundred scattered pixels of another value: compresses to
    almost nothing, yet is not a single colour an encoder could special-case."""
    import random

    from PIL import Image

    image = Image.new(mode, size, color=_colour(mode, 90))
    rng = random.Random(11)  # noqa: S311 - test pixels, not secrets
    other = _colour(mode, 200)
    for _ in range(400):
        image.putpixel((rng.randrange(size[0]), rng.randrange(size[1])), other)
    return image


def _colour(mode: str, value: int) -> Any:
    bands = {"1": 1, "L": 1, "P": 1, "I;16": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    if mode == "1":
        return value > 128
    if mode == "I;16":
        return value * 257
    return value if bands == 1 else tuple([value] * bands)


def _pillow(image_format: str, mode: str, **save: Any) -> Callable[[tuple[int, int]], bytes]:
    def build(size: tuple[int, int]) -> bytes:
        image = _speckled(mode, size)
        buffer = io.BytesIO()
        image.save(buffer, format=image_format, **save)
        return buffer.getvalue()

    return build


def _jpeg_rotated(size: tuple[int, int]) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to display
    return _pillow("JPEG", "RGB", quality=90, exif=exif.tobytes())(size)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2)]
_ADAM7 += [(0, 1, 1, 2)]


def _png_rows(width: int, height: int, bytes_per_pixel: int, interlaced: bool) -> Iterator[bytes]:
    """Filtered scanlines (filter 0) of a flat image with a bright pixel on some rows."""
    passes = _ADAM7 if interlaced else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        pass_width = max(0, math.ceil((width - x0) / dx))
        pass_height = max(0, math.ceil((height - y0) / dy))
        if not pass_width:
            continue
        flat = b"\x00" + b"\x5a" * (pass_width * bytes_per_pixel)
        for row in range(pass_height):
            if row % 997 == 0:
                yield b"\x00" + b"\xc8" * bytes_per_pixel + flat[1 + bytes_per_pixel :]
            else:
                yield flat


def _raw_png(colour_type: int, depth: int, interlaced: bool = False) -> Callable[..., bytes]:
    """PNG written by hand: Pillow cannot write 16 bits per channel colour, nor interlace."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]

    def build(size: tuple[int, int]) -> bytes:
        width, height = size
        header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, int(interlaced))
        compressor = zlib.compressobj(9)
        parts = []
        for row in _png_rows(width, height, channels * depth // 8, interlaced):
            parts.append(compressor.compress(row))
        parts.append(compressor.flush())
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", b"".join(parts))
            + _chunk(b"IEND", b"")
        )

    return build


# name -> how the image is built for a given size
IMAGES: dict[str, Callable[[tuple[int, int]], bytes]] = {
    "JPEG RGB baseline": _pillow("JPEG", "RGB", quality=90),
    "JPEG RGB progressive": _pillow("JPEG", "RGB", quality=90, progressive=True),
    "JPEG CMYK": _pillow("JPEG", "CMYK", quality=90),
    "JPEG RGB EXIF-rotated": _jpeg_rotated,
    "PNG RGBA 8-bit": _pillow("PNG", "RGBA", compress_level=9),
    "PNG RGBA 16-bit": _raw_png(6, 16),
    "PNG RGB 16-bit": _raw_png(2, 16),
    "PNG RGBA 16-bit interlaced": _raw_png(6, 16, interlaced=True),
    "PNG grey 16-bit": _raw_png(0, 16),
    "PNG palette": _pillow("PNG", "P", compress_level=9, transparency=0),
    "WebP lossy": _pillow("WEBP", "RGB", quality=80, method=0),
    "WebP lossy with alpha": _pillow("WEBP", "RGBA", quality=80, method=0),
    "WebP lossless with alpha": _pillow("WEBP", "RGBA", lossless=True, quality=0, method=0),
}


# --- The child: one image, one clean process -------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(path: str) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "avatar-cost-throwaway-" + "x" * 40)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image
    from rest_framework.exceptions import ValidationError

    from accounts.avatars import avatar_clean

    Image.init()  # every plugin imported now, not during the measured call
    upload = SimpleUploadedFile("a.bin", Path(path).read_bytes())
    # Writing 5 resets VmHWM to the current RSS (Linux 4.0+), so the peak measured is this
    # call's alone, not Django's start-up.
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    cpu = time.process_time()
    wall = time.perf_counter()
    try:
        clean = avatar_clean(upload)
        outcome = f"stored {clean.extension} {_size_of(clean.data)} {len(clean.data)} B"
    except ValidationError as exc:
        outcome = f"refused: {exc.detail}"
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    peak = _status_kib("VmHWM")
    return {
        "rss_growth_mib": (peak - before) / 1024,
        "cpu_s": cpu,
        "wall_s": wall,
        "outcome": outcome,
    }


def _size_of(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return "{}x{}".format(*image.size)


# --- The parent ------------------------------------------------------------------------


def _pixel_limits() -> dict[str, int]:
    """The limit the code enforces for each format, read from it the way a worker would."""
    code = (
        "import json, os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'config.settings'); os.environ.setdefault('SECRET_KEY', 'avatar-cost-throwaway-' + "
        "'x' * 40); django.setup(); from accounts.avatars import FORMATS, max_pixels; "
        "print(json.dumps({f: max_pixels(f) for f in FORMATS}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    limits: dict[str, int] = json.loads(out.stdout.strip())
    return limits


def _square(pixels: int) -> tuple[int, int]:
    side = math.isqrt(pixels)
    return side, pixels // side


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pixels", type=int, help="pixel count (default: the code's limit)")
    parser.add_argument("--only", help="only the images whose name contains this")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0

    limits = _pixel_limits()
    print(
        "worst accepted sizes: "
        + ", ".join(f"{name} {pixels:,} pixels" for name, pixels in limits.items())
        + "\n"
    )
    rows = []
    header = f"{'image':<28} {'file':>9} {'RSS +MiB':>9} {'CPU s':>6} {'wall s':>6}  outcome"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="avatar-cost-") as folder:
        for name, build in IMAGES.items():
            if args.only and args.only.lower() not in name.lower():
                continue
            # The entry's format is the first word of its name (JPEG, PNG, WebP).
            size = _square(args.pixels or limits[name.split()[0].upper()])
            data = build(size)
            path = Path(folder) / "image"
            path.write_bytes(data)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path)],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(image=name, size=f"{size[0]}x{size[1]}", file_bytes=len(data))
            rows.append(result)
            print(
                f"{name:<28} {len(data) / 1024:>7.0f}KB {result['rss_growth_mib']:>9.1f} "
                f"{result['cpu_s']:>6.2f} {result['wall_s']:>6.2f}  {result['outcome']}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
