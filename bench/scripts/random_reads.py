#!/usr/bin/env python3
"""4 KiB O_DIRECT random reads of FILE: rate and latency at queue depths 1, 8 and 32.

What a tiered collection's re-rank asks of the disk (one 4 KiB block per cache miss, 8 reads in
flight per fetch). O_DIRECT bypasses the page cache, so FILE should be larger than any cache in
front of the disk. Usage: random_reads.py FILE [SECONDS per depth, default 8]
"""
import mmap
import os
import random
import sys
import threading
import time

BLOCK = 4096


def reader(path, blocks, latencies, stop):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buffer = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT needs
    rng = random.Random(threading.get_ident())
    while not stop.is_set():
        offset = rng.randrange(blocks) * BLOCK
        start = time.perf_counter()
        os.preadv(fd, [buffer], offset)
        latencies.append(time.perf_counter() - start)
    os.close(fd)


def main():
    path = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
    blocks = os.path.getsize(path) // BLOCK
    for depth in (1, 8, 32):
        per_thread = [[] for _ in range(depth)]
        stop = threading.Event()
        threads = [threading.Thread(target=reader, args=(path, blocks, per_thread[i], stop))
                   for i in range(depth)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        latencies = sorted(x for part in per_thread for x in part)
        print(f"depth {depth}: {len(latencies) / elapsed:,.0f} reads/s, "
              f"p50 {latencies[len(latencies) // 2] * 1e6:.0f} us, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1e6:.0f} us")


if __name__ == "__main__":
    main()
