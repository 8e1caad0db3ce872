#!/usr/bin/env python3
"""The torch baseline of the GPU scan benchmark, run in the same device session as adanns-gpu:
scores = queries @ rows.T then torch.topk, and one Lloyd k-means iteration, on the same shapes.
Prints one line per point and writes JSON (--json)."""
import argparse
import json
import time

import torch


def median_seconds(fn, reps):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def scan_points(rows_count, k):
    points = []
    for dim in (64, 256, 768):
        for dtype in (torch.float32, torch.float16):
            rows = torch.rand(rows_count, dim, device="cuda", dtype=dtype) * 2 - 1
            for batch in (1, 16, 256, 4096):
                queries = torch.rand(batch, dim, device="cuda", dtype=dtype) * 2 - 1
                seconds = median_seconds(lambda: torch.topk(queries @ rows.T, k, dim=1),
                                         3 if batch >= 4096 else 5)
                name = "fp16" if dtype == torch.float16 else "fp32"
                print(f"torch d={dim} {name} batch={batch} matmul+topk {seconds * 1e3:.3f} ms",
                      flush=True)
                points.append({"dim": dim, "dtype": name, "batch": batch, "torch_s": seconds})
            del rows
            torch.cuda.empty_cache()
    return points


def lloyd_iteration(points, centroids):
    # Squared distances up to |x|^2, argmin, then the means.
    scores = points @ centroids.T
    assign = torch.argmin((centroids * centroids).sum(1)[None, :] - 2 * scores, dim=1)
    sums = torch.zeros_like(centroids, dtype=torch.float32)
    sums.index_add_(0, assign, points.float())
    counts = torch.bincount(assign, minlength=centroids.shape[0]).clamp(min=1)
    return (sums / counts[:, None]).to(points.dtype)


def kmeans_points(rows_count):
    out = {}
    n = min(rows_count, 1_000_000)
    clusters = min(4096, n // 40)
    for dtype in (torch.float32, torch.float16):
        points = (torch.rand(n, 256, device="cuda") * 2 - 1).to(dtype)
        centroids = points[torch.randperm(n, device="cuda")[:clusters]].clone()

        def ten():
            c = centroids
            for _ in range(10):
                c = lloyd_iteration(points, c)
        seconds = median_seconds(ten, 1) / 10
        name = "fp16" if dtype == torch.float16 else "fp32"
        print(f"torch k-means {n}x256 -> {clusters} {name}: {seconds:.4f} s/iteration", flush=True)
        out[name + "_s_per_iteration"] = seconds
    out.update({"rows": n, "dims": 256, "clusters": clusters})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json")
    args = parser.parse_args()
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "rows": args.rows, "k": args.k, "scan": scan_points(args.rows, args.k),
              "kmeans": kmeans_points(args.rows)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
