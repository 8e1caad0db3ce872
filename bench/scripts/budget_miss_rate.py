#!/usr/bin/env python3
"""Miss rates of target_recall across calibration seeds, from an `adanns-bench run` JSON with
adanns-budget points (build params `calibration` 1 = held-out rows, 0 = self-queries; search params
`target_recall` and `seed`).

For each calibration source, selection rule (the 95% lower bound the server uses, or the mean
recall it replaced: search param `mean_rule`) and target: how many of the seeds' chosen plans reached the target on
the test queries (ann-benchmarks recall), the recall range, mean MFLOPs per query and median QPS,
and beside it the oracle (the cheapest plan of the grid reaching the target on the test queries
themselves). Usage: budget_miss_rate.py RESULT.json [more.json ...]
"""
import collections
import json
import statistics
import sys

SOURCES = {1: "held-out rows", 2: "reservoir (test-like)", 0: "self-queries"}


def main(paths):
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        name = run.get("meta", {}).get("dataset", path)
        groups = collections.defaultdict(list)
        oracle = {}
        for point in run["points"]:
            if point["method"] != "adanns-budget":
                continue
            params = point["params"]
            if "target_recall" not in params:
                continue
            target = round(params["target_recall"], 4)
            source = int(params.get("calibration", 1))
            rule = "mean" if params.get("mean_rule", 0) == 1 else "95% bound"
            if params.get("oracle", 0) == 1:
                oracle.setdefault(target, point)
                continue
            groups[(source, rule, target)].append(point)
        print(f"## {name}")
        print("| calibration | rule | target | misses / seeds | recall min–max | MFLOPs | "
              "QPS (median) | oracle MFLOPs |")
        print("|---|---|---|---|---|---|---|---|")
        for (source, rule, target), points in sorted(
                groups.items(), key=lambda kv: ([1, 2, 0].index(kv[0][0]), kv[0][2], kv[0][1])):
            recalls = [p["recall"] for p in points]
            misses = sum(r < target for r in recalls)
            mflops = statistics.mean(p["mflops_per_query"] for p in points)
            qps = statistics.median(p["qps"] for p in points)
            best = oracle.get(target)
            oracle_mflops = f"{best['mflops_per_query']:.3f}" if best else "n/a"
            print(f"| {SOURCES.get(source, source)} | {rule} | {target} | {misses} / {len(points)} "
                  f"| {min(recalls):.4f}–{max(recalls):.4f} | {mflops:.3f} | {qps:,.0f} "
                  f"| {oracle_mflops} |")
        print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
