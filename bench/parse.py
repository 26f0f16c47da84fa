"""Parses a 10 MiB and a 1 GiB IPA with the same Info.plist, each in a fresh process, and compares time and memory.

Run: python bench/parse.py   (needs about 1 GiB free in the temp directory)
The parser should read only the central directory and the few members it needs, so the 1 GiB file should cost
about what the 10 MiB one does (goal: ratio <= 2x).
"""
import json
import plistlib
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
CHUNK = 8 * MIB
SIZES = {"10 MiB": 10 * MIB, "1 GiB": 1024 * MIB}
RUNS = 3
APP_DIR = "Payload/Bench App.app/"
CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from fenfa_lib.packages.ipa import parse_ipa

def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

before = peak_kib()
start = time.perf_counter()
app = parse_ipa(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_kib": peak_kib(), "growth_kib": peak_kib() - before,
                  "identifier": app.identifier, "icon_bytes": len(app.icon or b"")}))
"""


def crushed_icon(side=180):
    """A CgBI PNG (raw deflate, CgBI chunk first), so the parse does the icon conversion work too."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + bytes((x * 7 % 256, y, 128, 200)[i % 4] for x in range(side) for i in range(4))
                    for y in range(side))
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"CgBI", b"\x50\x00\x20\x06") + chunk(b"IHDR", header)
            + chunk(b"IDAT", deflater.compress(rows) + deflater.flush()) + chunk(b"IEND", b""))


def build_ipa(path, total_size, info_plist, icon):
    """An IPA padded to total_size by a stored member written in chunks, placed before the Info.plist."""
    with zipfile.ZipFile(path, "w") as archive:
        padding = zipfile.ZipInfo(APP_DIR + "Bench App")
        padding.compress_type = zipfile.ZIP_STORED
        remaining = total_size - len(info_plist) - len(icon)
        block = bytes(range(256)) * (CHUNK // 256)
        with archive.open(padding, "w", force_zip64=True) as member:
            while remaining > 0:
                member.write(block[:min(CHUNK, remaining)])
                remaining -= CHUNK
        archive.writestr(APP_DIR + "Info.plist", info_plist, zipfile.ZIP_DEFLATED)
        archive.writestr(APP_DIR + "AppIcon60x60@3x.png", icon, zipfile.ZIP_DEFLATED)


def parse_in_fresh_process(path):
    start = time.perf_counter()
    output = subprocess.run([sys.executable, "-c", CHILD, str(path), str(REPO)], check=True, capture_output=True,
                            text=True).stdout
    return {**json.loads(output), "process_seconds": time.perf_counter() - start}


def main():
    info_plist = plistlib.dumps({
        "CFBundleIdentifier": "com.example.bench", "CFBundleShortVersionString": "1.0", "CFBundleVersion": "1",
        "CFBundleName": "Bench", "MinimumOSVersion": "15.0", "UIDeviceFamily": [1, 2],
        "CFBundleIcons": {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60"]}},
    }, fmt=plistlib.FMT_BINARY)
    icon = crushed_icon()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for label, size in SIZES.items():
            path = Path(directory) / f"bench-{size}.ipa"
            build_ipa(path, size, info_plist, icon)
            runs = [parse_in_fresh_process(path) for _ in range(RUNS)]
            results[label] = {
                "file_bytes": path.stat().st_size,
                "seconds": min(run["seconds"] for run in runs),
                "process_seconds": min(run["process_seconds"] for run in runs),
                "peak_kib": max(run["peak_kib"] for run in runs),
                "growth_kib": max(run["growth_kib"] for run in runs),
            }
            path.unlink()
    for label, result in results.items():
        print(f"{label:>7}: {result['file_bytes']:>13,} bytes  parse {result['seconds'] * 1000:7.1f} ms  "
              f"process {result['process_seconds'] * 1000:7.1f} ms  peak RSS {result['peak_kib'] / 1024:6.1f} MiB  "
              f"(+{result['growth_kib'] / 1024:.1f} MiB during parse)")
    small, large = results["10 MiB"], results["1 GiB"]
    time_ratio, rss_ratio = large["seconds"] / small["seconds"], large["peak_kib"] / small["peak_kib"]
    print(f"ratio 1 GiB / 10 MiB: parse time {time_ratio:.2f}x, peak RSS {rss_ratio:.2f}x (goal <= 2x)")
    return 0 if time_ratio <= 2 and rss_ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
