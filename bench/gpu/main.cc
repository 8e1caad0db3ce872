// adanns-gpu: the device check and benchmark binary (no gRPC, RocksDB or HDF5, so the bundle the
// device script carries stays small).
//   adanns-gpu info
//   adanns-gpu check [--json FILE] [--seed S]      GPU-vs-CPU agreement; exit 1 on any failure
//   adanns-gpu bench [--json FILE] [--rows N] [--cpu-kmeans]
//                    [--dims D] [--batch B] [--dtype fp32|fp16] [--skip-kmeans]   one point only
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/gpu/baselines.h"
#include "bench/gpu/gpu_checks.h"
#include "index/cuda/gpu.h"
#include "index/cuda/gpu_kmeans.h"
#include "index/kmeans.h"

namespace adanns::gpu_bench {
namespace {

struct Args {
  std::string command;
  std::string json;
  uint64_t seed = 42;
  size_t rows = 1'000'000;
  bool cpu_kmeans = false;
  // Restrict the scan sweep to one point (0 / empty = every value), e.g. to profile one kernel.
  uint32_t only_dim = 0;
  size_t only_batch = 0;
  std::string only_dtype;
  bool skip_kmeans = false;
};

Args Parse(int argc, char** argv) {
  Args args;
  if (argc > 1) args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--json") {
      args.json = value, ++i;
    } else if (flag == "--seed") {
      args.seed = std::stoull(value), ++i;
    } else if (flag == "--rows") {
      args.rows = std::stoull(value), ++i;
    } else if (flag == "--cpu-kmeans") {
      args.cpu_kmeans = true;
    } else if (flag == "--dims") {
      args.only_dim = static_cast<uint32_t>(std::stoul(value)), ++i;
    } else if (flag == "--batch") {
      args.only_batch = std::stoull(value), ++i;
    } else if (flag == "--dtype") {
      args.only_dtype = value, ++i;
    } else if (flag == "--skip-kmeans") {
      args.skip_kmeans = true;
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      std::exit(2);
    }
  }
  return args;
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string DeviceJson(const index::gpu::DeviceInfo& device) {
  std::ostringstream out;
  out << "{\"available\": " << (device.available ? "true" : "false")
      << ", \"name\": " << Quote(device.name) << ", \"reason\": " << Quote(device.reason)
      << ", \"total_bytes\": " << device.total_bytes
      << ", \"multiprocessors\": " << device.multiprocessors << "}";
  return out.str();
}

void Emit(const Args& args, const std::string& json) {
  std::cout << json << "\n";
  if (!args.json.empty()) std::ofstream(args.json) << json << "\n";
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Uniform(-1, 1) rows, generated in parallel chunks (a 1M x 768 set in seconds).
std::vector<float> FastRows(size_t n, uint32_t dim, uint64_t seed) {
  std::vector<float> rows(n * dim);
  constexpr size_t kChunk = 65536;
#pragma omp parallel for schedule(dynamic)
  for (size_t chunk = 0; chunk < (n + kChunk - 1) / kChunk; ++chunk) {
    std::mt19937 rng(static_cast<uint32_t>(seed * 1000003 + chunk));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const size_t end = std::min(n, (chunk + 1) * kChunk) * dim;
    for (size_t i = chunk * kChunk * dim; i < end; ++i) rows[i] = uniform(rng);
  }
  return rows;
}

int Check(const Args& args) {
  const index::gpu::DeviceInfo device = index::gpu::Probe();
  std::ostringstream json;
  json << "{\"device\": " << DeviceJson(device) << ", \"checks\": [";
  int failed = 0;
  if (device.available) {
    const std::vector<CheckResult> results = RunGpuChecks(args.seed);
    for (size_t i = 0; i < results.size(); ++i) {
      const CheckResult& r = results[i];
      failed += !r.passed;
      json << (i ? ", " : "") << "{\"name\": " << Quote(r.name)
           << ", \"passed\": " << (r.passed ? "true" : "false")
           << ", \"id_recall\": " << r.id_recall
           << ", \"max_distance_error\": " << r.max_distance_error
           << ", \"detail\": " << Quote(r.detail) << "}";
      std::cerr << (r.passed ? "PASS " : "FAIL ") << r.name << ": " << r.detail << "\n";
    }
  }
  json << "], \"failed\": " << failed << "}";
  Emit(args, json.str());
  return device.available && failed == 0 ? 0 : 1;
}

template <typename F>
double MedianSeconds(int reps, F&& run) {
  run();  // warm-up
  std::vector<double> times;
  for (int rep = 0; rep < reps; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(Seconds(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Bench(const Args& args) {
  const index::gpu::DeviceInfo device = index::gpu::Probe();
  if (!device.available) {
    std::cerr << "no GPU: " << device.reason << "\n";
    return 1;
  }
  constexpr uint32_t kK = 10;
  std::ostringstream json;
  json << "{\"device\": " << DeviceJson(device) << ", \"rows\": " << args.rows << ", \"k\": " << kK;
  auto copy = CopyBandwidth(1ull << 30, 5);
  if (!copy.ok()) {
    std::cerr << copy.status() << "\n";
    return 1;
  }
  json << ", \"copy_bandwidth_bytes_per_s\": " << *copy << ", \"scan\": [";
  std::cerr << "device-to-device copy: " << *copy / 1e9 << " GB/s (read + write)\n";
  bool first = true;
  for (const uint32_t dim : {64u, 256u, 768u}) {
    if (args.only_dim != 0 && dim != args.only_dim) continue;
    const std::vector<float> rows = FastRows(args.rows, dim, args.seed + dim);
    for (const bool half : {false, true}) {
      if (!args.only_dtype.empty() && args.only_dtype != (half ? "fp16" : "fp32")) continue;
      index::gpu::ScorerOptions options;
      options.metric = Metric::kInnerProduct;
      options.dim = dim;
      options.storage = half ? index::gpu::Storage::kFloat16 : index::gpu::Storage::kFloat32;
      auto scorer = index::gpu::CreateScorer(options);
      if (!scorer.ok()) {
        std::cerr << scorer.status() << "\n";
        return 1;
      }
      constexpr size_t kUpload = 65536;
      for (size_t begin = 0; begin < args.rows; begin += kUpload) {
        const size_t n = std::min(kUpload, args.rows - begin);
        std::vector<index::RowId> ids(n);
        for (size_t i = 0; i < n; ++i) ids[i] = static_cast<index::RowId>(begin + i);
        if (absl::Status s = (*scorer)->SetRows(ids, rows.data() + begin * dim, dim); !s.ok()) {
          std::cerr << s << "\n";
          return 1;
        }
      }
      auto gemm = GemmBaseline::Create(rows, args.rows, dim, half);
      if (!gemm.ok()) {
        std::cerr << gemm.status() << "\n";
        return 1;
      }
      for (const size_t batch : {size_t{1}, size_t{16}, size_t{256}, size_t{4096}}) {
        if (args.only_batch != 0 && batch != args.only_batch) continue;
        const std::vector<float> queries = FastRows(batch, dim, args.seed + 7);
        const index::QueryBatch query_batch{queries.data(), batch, dim};
        absl::Status scan_status;
        const int reps = batch >= 4096 ? 3 : 5;
        const double fused = MedianSeconds(reps, [&] {
          auto result = (*scorer)->Scan(query_batch, dim, kK, args.rows);
          if (!result.ok()) scan_status = result.status();
        });
        auto gemm_seconds = (*gemm)->Time(queries, batch, kK, reps);
        if (!scan_status.ok() || !gemm_seconds.ok()) {
          std::cerr << scan_status << " " << gemm_seconds.status() << "\n";
          return 1;
        }
        const double bytes = double(args.rows) * dim * (half ? 2 : 4);
        json << (first ? "" : ", ") << "{\"dim\": " << dim
             << ", \"dtype\": " << (half ? "\"fp16\"" : "\"fp32\"") << ", \"batch\": " << batch
             << ", \"fused_s\": " << fused << ", \"fused_read_bytes_per_s\": " << bytes / fused
             << ", \"fused_qps\": " << batch / fused << ", \"gemm_topk_s\": " << *gemm_seconds
             << ", \"fused_speedup_vs_gemm\": " << *gemm_seconds / fused << "}";
        first = false;
        std::cerr << "d=" << dim << (half ? " fp16" : " fp32") << " batch=" << batch << " fused "
                  << fused * 1e3 << " ms (" << bytes / fused / 1e9
                  << " GB/s read), cuBLAS GEMM + top-k " << *gemm_seconds * 1e3 << " ms\n";
      }
    }
  }
  json << "]";
  if (args.skip_kmeans) {
    json << "}";
    Emit(args, json.str());
    return 0;
  }
  // k-means: 1M x 256 -> 4096, 10 iterations (the reference shape).
  const size_t kmeans_rows = std::min<size_t>(args.rows, 1'000'000);
  const std::vector<float> points = FastRows(kmeans_rows, 256, args.seed + 99);
  index::KMeansOptions options;
  options.clusters = static_cast<uint32_t>(std::min<size_t>(4096, kmeans_rows / 40));
  options.iterations = 10;
  auto gpu = index::gpu::TrainKMeans(points.data(), kmeans_rows, 256, options);
  if (!gpu.ok()) {
    std::cerr << gpu.status() << "\n";
    return 1;
  }
  json << ", \"kmeans\": {\"rows\": " << kmeans_rows
       << ", \"dims\": 256, \"clusters\": " << options.clusters
       << ", \"iterations\": 10, \"gpu_s_per_iteration\": " << gpu->seconds_per_iteration
       << ", \"gpu_objective\": " << gpu->objective;
  std::cerr << "k-means GPU " << gpu->seconds_per_iteration << " s/iteration\n";
  if (args.cpu_kmeans) {
    options.iterations = 1;
    const auto start = std::chrono::steady_clock::now();
    auto cpu = index::TrainKMeans(points.data(), kmeans_rows, 256, options);
    const double cpu_seconds = Seconds(start);
    json << ", \"cpu_threads\": " << omp_get_max_threads()
         << ", \"cpu_s_one_iteration\": " << (cpu.ok() ? cpu_seconds : -1.0);
    std::cerr << "k-means CPU (FAISS) one iteration " << cpu_seconds << " s\n";
  }
  json << "}}";
  Emit(args, json.str());
  return 0;
}

}  // namespace
}  // namespace adanns::gpu_bench

int main(int argc, char** argv) {
  using namespace adanns::gpu_bench;
  const Args args = Parse(argc, argv);
  if (args.command == "info") {
    Emit(args, DeviceJson(adanns::index::gpu::Probe()));
    return 0;
  }
  if (args.command == "check") return Check(args);
  if (args.command == "bench") return Bench(args);
  std::cerr
      << "usage: adanns-gpu info | check [--json F] [--seed S] | bench [--json F] "
         "[--rows N] [--cpu-kmeans] [--dims D] [--batch B] [--dtype fp32|fp16] [--skip-kmeans]\n";
  return 2;
}
