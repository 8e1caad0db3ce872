#!/usr/bin/env python3
"""What a first touch of memory costs on this machine: the rate at which a process fills fresh
anonymous memory, against re-filling the same memory (bench/results/write-path-ingest-first-touch.txt).

On a VM the host may back a guest page only at its first touch (and take freed guest memory back
later), so filling fresh memory can be an order of magnitude slower than re-filling it; the
in-memory table of an ingest and dd's page cache both fill fresh memory.

Usage: bench/scripts/first_touch.py [MiB=1024] [--huge]   (--huge: madvise(MADV_HUGEPAGE) first)
"""
import mmap
import sys
import time


def fill_rate(buffer: mmap.mmap, chunk: bytes) -> float:
    """MB/s of writing `chunk` over the whole mapping, again and again."""
    start = time.perf_counter()
    buffer.seek(0)
    for _ in range(len(buffer) // len(chunk)):
        buffer.write(chunk)
    return len(buffer) / 1e6 / (time.perf_counter() - start)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    huge = "--huge" in sys.argv
    mib = int(args[0]) if args else 1024
    buffer = mmap.mmap(-1, mib << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if huge:
        buffer.madvise(mmap.MADV_HUGEPAGE)
    chunk_1 = b"\x01" * (8 << 20)
    chunk_2 = b"\x02" * (8 << 20)
    first = fill_rate(buffer, chunk_1)
    second = fill_rate(buffer, chunk_2)
    pages = "THP" if huge else "4 KiB pages"
    print(f"{mib} MiB, {pages}: first touch {first:.0f} MB/s, second {second:.0f} MB/s")


if __name__ == "__main__":
    main()
