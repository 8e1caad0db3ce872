#!/usr/bin/env python3
"""Summarises device runs of bench/gpu/run-on-device.sh as the README's GPU table: for every
point, the median over runs of each run's median time (min-max over runs beside it), ours (the
fused scan, and cuBLAS GEMM + our top-k) against torch.matmul + torch.topk from the same runs.

  bench/gpu/summarize.py RUN_PREFIX [RUN_PREFIX ...]
where RUN_PREFIX-bench.json and RUN_PREFIX-torch.json exist (bench/results/gpu-h200-*/run1 ...).
"""
import json
import statistics
import sys


def load(prefix):
    with open(prefix + "-bench.json") as f:
        bench = json.load(f)
    with open(prefix + "-torch.json") as f:
        torch = json.load(f)
    return bench, torch


def spread(values, scale=1e3):
    values = [v * scale for v in values]
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.3g}"
    return f"{median:.3g} ({min(values):.3g}-{max(values):.3g})"


def main(prefixes):
    runs = [load(p) for p in prefixes]
    points = {}
    for bench, torch in runs:
        for point in bench["scan"]:
            key = (point["dim"], point["dtype"], point["batch"])
            entry = points.setdefault(key, {"fused": [], "gemm": [], "torch": [], "read": []})
            entry["fused"].append(point["fused_s"])
            entry["gemm"].append(point["gemm_topk_s"])
            entry["read"].append(point["fused_read_bytes_per_s"] / bench["copy_bandwidth_bytes_per_s"])
        for point in torch["scan"]:
            key = (point["dim"], point["dtype"], point["batch"])
            if key in points:
                points[key]["torch"].append(point["torch_s"])
    copy = [bench["copy_bandwidth_bytes_per_s"] / 1e12 for bench, _ in runs]
    print(f"{len(runs)} runs on {runs[0][0]['device']['name']}, N = {runs[0][0]['rows']:,} rows, "
          f"k = {runs[0][0]['k']}, torch {runs[0][1]['torch']}; device copy bandwidth "
          f"{statistics.median(copy):.2f} TB/s (read + write). Times in ms: median over runs "
          f"(min-max).\n")
    print("| d | storage | batch | fused scan | cuBLAS GEMM + our top-k | torch matmul + topk "
          "| fused vs torch | GEMM route vs torch | fused read / copy bw |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (dim, dtype, batch), e in sorted(points.items()):
        torch_median = statistics.median(e["torch"]) if e["torch"] else float("nan")
        fused_median = statistics.median(e["fused"])
        gemm_median = statistics.median(e["gemm"])
        print(f"| {dim} | {dtype} | {batch} | {spread(e['fused'])} | {spread(e['gemm'])} | "
              f"{spread(e['torch']) if e['torch'] else '-'} | {torch_median / fused_median:.2f}x | "
              f"{torch_median / gemm_median:.2f}x | {100 * statistics.median(e['read']):.0f}% |")
    ours = [bench["kmeans"]["gpu_s_per_iteration"] for bench, _ in runs]
    torch32 = [torch["kmeans"]["fp32_s_per_iteration"] for _, torch in runs]
    torch16 = [torch["kmeans"]["fp16_s_per_iteration"] for _, torch in runs]
    print(f"\nk-means 1M x 256 -> 4096, ms per Lloyd iteration: ours (fp32 cuBLAS SGEMM) "
          f"{spread(ours)}, torch fp32 {spread(torch32)}, torch fp16 {spread(torch16)}; "
          f"ours / torch fp32 = {statistics.median(ours) / statistics.median(torch32):.2f}, "
          f"ours / torch fp16 = {statistics.median(ours) / statistics.median(torch16):.2f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
