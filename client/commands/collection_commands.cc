// `adanns collection create | list | describe | drop`.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "client/commands/cli_context.h"

namespace adanns::client {
namespace {

absl::StatusOr<v1::Metric> ParseMetric(const std::string& name) {
  if (name == "l2") {
    return v1::L2;
  }
  if (name == "ip") {
    return v1::INNER_PRODUCT;
  }
  if (name == "cosine") {
    return v1::COSINE;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown metric '", name, "': expected l2, ip or cosine"));
}

std::string MetricName(v1::Metric metric) {
  switch (metric) {
    case v1::L2:
      return "l2";
    case v1::INNER_PRODUCT:
      return "ip";
    case v1::COSINE:
      return "cosine";
    default:
      return absl::StrCat("metric ", static_cast<int>(metric));
  }
}

std::string FormatBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

}  // namespace

void PrintIndexInfo(const v1::IndexInfo& index) {
  std::printf("  %-12s kind=%s state=%s progress=%.0f%% memory=%s", index.name().c_str(),
              index.kind().c_str(), index.state().c_str(), 100 * index.progress(),
              FormatBytes(index.memory_bytes()).c_str());
  if (index.build_seconds() > 0) std::printf(" built_in=%.1fs", index.build_seconds());
  if (index.name() != "flat") {
    std::printf(" added_since_build=%lld%s",
                static_cast<long long>(index.vectors_added_since_build()),
                index.rebuild_advised() ? " (rebuild advised)" : "");
  }
  std::printf("\n");
  if (!index.params().empty()) {
    // Sorted so the output is stable.
    std::vector<std::pair<std::string, double>> params(index.params().begin(),
                                                       index.params().end());
    std::sort(params.begin(), params.end());
    std::string line;
    for (const auto& [key, value] : params) absl::StrAppend(&line, " ", key, "=", value);
    std::printf("               params:%s\n", line.c_str());
  }
  if (!index.error().empty()) std::printf("               error: %s\n", index.error().c_str());
}

namespace {

std::string BudgetText(const v1::Budget& budget) {
  std::string text;
  if (budget.has_max_mflops()) text = absl::StrCat("max_mflops=", budget.max_mflops());
  if (budget.has_target_recall()) text = absl::StrCat("target_recall=", budget.target_recall());
  if (budget.has_plan()) text = absl::StrCat("plan ", PlanText(budget.plan()));
  if (budget.has_max_dims())
    absl::StrAppend(&text, text.empty() ? "" : " ", "max_dims=", budget.max_dims());
  return text;
}

// One line per shard; a replicated collection's lines add the shard's epoch, its copies (the
// primary first) and its in-sync set.
void PrintShards(const google::protobuf::RepeatedPtrField<v1::ShardInfo>& shards) {
  const bool replicated = std::any_of(shards.begin(), shards.end(), [](const v1::ShardInfo& shard) {
    return shard.replicas_size() > 0;
  });
  if (!replicated) {
    std::printf("shards:        %-6s %-24s %-12s %12s\n", "SHARD", "NODE", "STATE", "VECTORS");
    for (const v1::ShardInfo& shard : shards) {
      std::printf("               %-6u %-24s %-12s %12llu%s%s\n", shard.shard(),
                  shard.node_id().c_str(), shard.state().c_str(),
                  static_cast<unsigned long long>(shard.vector_count()),
                  shard.error().empty() ? "" : "  ", shard.error().c_str());
    }
    return;
  }
  // The copies column is as wide as its longest list, so the in-sync column lines up.
  int replicas_width = static_cast<int>(std::strlen("REPLICAS"));
  for (const v1::ShardInfo& shard : shards) {
    replicas_width =
        std::max(replicas_width, static_cast<int>(absl::StrJoin(shard.replicas(), ",").size()));
  }
  std::printf("shards:        %-6s %-24s %-12s %12s %6s  %-*s  %s\n", "SHARD", "PRIMARY", "STATE",
              "VECTORS", "EPOCH", replicas_width, "REPLICAS", "IN-SYNC");
  for (const v1::ShardInfo& shard : shards) {
    const std::string replicas = absl::StrJoin(shard.replicas(), ",");
    const std::string in_sync = absl::StrJoin(shard.in_sync(), ",");
    std::printf("               %-6u %-24s %-12s %12llu %6llu  %-*s  %s%s%s\n", shard.shard(),
                shard.node_id().c_str(), shard.state().c_str(),
                static_cast<unsigned long long>(shard.vector_count()),
                static_cast<unsigned long long>(shard.epoch()), replicas_width,
                replicas.empty() ? "-" : replicas.c_str(), in_sync.empty() ? "-" : in_sync.c_str(),
                shard.error().empty() ? "" : "  ", shard.error().c_str());
  }
}

void PrintCollection(const v1::CollectionInfo& info) {
  std::printf("name:          %s\n", info.name().c_str());
  std::printf("dim:           %u\n", info.dim());
  std::printf("metric:        %s\n", MetricName(info.metric()).c_str());
  std::printf("nesting dims:  %s\n", absl::StrJoin(info.nesting_dims(), ",").c_str());
  std::printf("vectors:       %llu\n", static_cast<unsigned long long>(info.vector_count()));
  const v1::StorageOptions& storage = info.storage();
  const char* precision = storage.resident_precision() == v1::PRECISION_FP16   ? "fp16"
                          : storage.resident_precision() == v1::PRECISION_INT8 ? "int8"
                                                                               : "fp32";
  const bool quantized = storage.resident_precision() != v1::PRECISION_FP32;
  if (storage.resident_dims() > 0 && storage.resident_dims() < info.dim()) {
    std::printf("resident:      first %u of %u dims, %s (full vectors read from storage)\n",
                storage.resident_dims(), info.dim(), precision);
  } else {
    std::printf("resident:      every dim, %s%s\n", precision,
                quantized ? " (re-ranks read exact vectors from storage)" : "");
  }
  std::printf("vector memory: %s\n", FormatBytes(info.vector_memory_bytes()).c_str());
  std::printf("memory:        %-24s %14s %14s\n", "COMPONENT", "BYTES", "BYTES/VECTOR");
  for (const v1::MemoryComponent& component : info.memory()) {
    std::printf("               %-24s %14s %14.1f\n", component.name().c_str(),
                FormatBytes(component.bytes()).c_str(), component.bytes_per_vector());
  }
  const v1::BlockCacheInfo& cache = info.block_cache();
  const uint64_t lookups = cache.hits() + cache.misses();
  std::printf("block cache:   %s of %s used (server-wide), hit ratio %s\n",
              FormatBytes(cache.usage_bytes()).c_str(), FormatBytes(cache.capacity_bytes()).c_str(),
              lookups > 0 ? absl::StrCat(double(cache.hits()) / double(lookups)).c_str() : "-");
  std::printf("default budget: %s\n", info.has_default_budget()
                                          ? BudgetText(info.default_budget()).c_str()
                                          : "none (automatic plan)");
  std::printf("calibration:   %s\n", info.calibration().state().c_str());
  if (info.shards_size() > 0) PrintShards(info.shards());
  std::printf("indexes:\n");
  for (const v1::IndexInfo& index : info.indexes()) PrintIndexInfo(index);
}

struct CreateArgs {
  std::string name;
  uint32_t dim = 0;
  std::string metric;
  std::vector<uint32_t> nesting_dims;
  uint32_t resident_dims = 0;
  std::string resident_precision = "fp32";
  uint32_t shards = 0;
  uint32_t replicas = 0;
};

void AddCreate(CLI::App& parent, CliContext& context) {
  auto args = std::make_shared<CreateArgs>();
  CLI::App* create = parent.add_subcommand("create", "Create an empty collection");
  create->add_option("name", args->name, "Collection name")->required();
  create->add_option("--dim", args->dim, "Length of the full embedding")->required();
  create->add_option("--metric", args->metric, "Similarity: l2, ip (inner product) or cosine")
      ->required()
      ->check(CLI::IsMember({"l2", "ip", "cosine"}));
  create
      ->add_option("--nesting-dims", args->nesting_dims,
                   "Prefix lengths the embedding was trained for, e.g. 8,16,32 (default: powers "
                   "of two from 8, plus dim)")
      ->delimiter(',');
  create->add_option("--resident-dims", args->resident_dims,
                     "Memory tiers: keep only this many leading dims of each vector in memory; the "
                     "re-rank reads full vectors from storage (default: every dim)");
  create
      ->add_option(
          "--resident-precision", args->resident_precision,
          "Precision of the resident prefix: fp32 (default), fp16 (half the bytes; values beyond "
          "+-65504 refused) or int8 (a quarter; per-dimension ranges learned from the "
          "first 8,192 vectors)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}));
  create->add_option("--shards", args->shards,
                     "Shards to spread the collection over (a cluster's router only; default: the "
                     "router's --default_shards, 1 on a standalone server)");
  create->add_option("--replicas", args->replicas,
                     "Copies of every shard, on distinct data nodes: a primary that takes the "
                     "writes and replicas - 1 followers (a cluster's router only: 1..5, at most "
                     "the live data nodes; default: the router's --default_replicas, 1 on a "
                     "standalone server)");
  create->callback([args, &context] {
    context.run = [args](CliContext& run_context) -> absl::Status {
      v1::CreateCollectionRequest request;
      request.set_name(args->name);
      request.set_dim(args->dim);
      ASSIGN_OR_RETURN(v1::Metric metric, ParseMetric(args->metric));
      request.set_metric(metric);
      request.mutable_nesting_dims()->Add(args->nesting_dims.begin(), args->nesting_dims.end());
      request.set_shards(args->shards);
      request.set_replicas(args->replicas);
      request.mutable_storage()->set_resident_dims(args->resident_dims);
      request.mutable_storage()->set_resident_precision(
          args->resident_precision == "fp16"   ? v1::PRECISION_FP16
          : args->resident_precision == "int8" ? v1::PRECISION_INT8
                                               : v1::PRECISION_FP32);
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      ASSIGN_OR_RETURN(v1::CollectionInfo info, client->CreateCollection(request));
      std::printf("created collection %s\n", info.name().c_str());
      PrintCollection(info);
      return absl::OkStatus();
    };
  });
}

void AddList(CLI::App& parent, CliContext& context) {
  CLI::App* list = parent.add_subcommand("list", "List every collection");
  list->callback([&context] {
    context.run = [](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      ASSIGN_OR_RETURN(v1::ListCollectionsResponse response, client->ListCollections());
      std::printf("%-32s %8s %-7s %12s\n", "NAME", "DIM", "METRIC", "VECTORS");
      for (const v1::CollectionInfo& info : response.collections()) {
        std::printf("%-32s %8u %-7s %12llu\n", info.name().c_str(), info.dim(),
                    MetricName(info.metric()).c_str(),
                    static_cast<unsigned long long>(info.vector_count()));
      }
      return absl::OkStatus();
    };
  });
}

void AddDescribe(CLI::App& parent, CliContext& context) {
  auto name = std::make_shared<std::string>();
  CLI::App* describe = parent.add_subcommand("describe", "Show a collection and its indexes");
  describe->add_option("name", *name, "Collection name")->required();
  describe->callback([name, &context] {
    context.run = [name](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      v1::DescribeCollectionRequest request;
      request.set_name(*name);
      ASSIGN_OR_RETURN(v1::CollectionInfo info, client->DescribeCollection(request));
      PrintCollection(info);
      return absl::OkStatus();
    };
  });
}

struct SetBudgetArgs {
  std::string name;
  std::optional<double> max_mflops;
  std::optional<float> target_recall;
  std::optional<uint32_t> max_dims;
};

void AddSetBudget(CLI::App& parent, CliContext& context) {
  auto args = std::make_shared<SetBudgetArgs>();
  CLI::App* set_budget = parent.add_subcommand(
      "set-budget",
      "Set the budget of searches that ask for none (no option: clear it, back to automatic)");
  set_budget->add_option("name", args->name, "Collection name")->required();
  CLI::Option* mflops =
      set_budget->add_option("--max-mflops", args->max_mflops, "Hard cap on MFLOPs per query");
  set_budget->add_option("--target-recall", args->target_recall, "Recall@k to reach")
      ->excludes(mflops);
  set_budget->add_option("--max-dims", args->max_dims, "Longest prefix any stage may read");
  set_budget->callback([args, &context] {
    context.run = [args](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      v1::UpdateCollectionRequest request;
      request.set_name(args->name);
      if (args->max_mflops || args->target_recall || args->max_dims) {
        v1::Budget* budget = request.mutable_default_budget();
        if (args->max_mflops) budget->set_max_mflops(*args->max_mflops);
        if (args->target_recall) budget->set_target_recall(*args->target_recall);
        if (args->max_dims) budget->set_max_dims(*args->max_dims);
      }
      ASSIGN_OR_RETURN(v1::CollectionInfo info, client->UpdateCollection(request));
      PrintCollection(info);
      return absl::OkStatus();
    };
  });
}

void AddDrop(CLI::App& parent, CliContext& context) {
  auto name = std::make_shared<std::string>();
  CLI::App* drop = parent.add_subcommand("drop", "Drop a collection and its data");
  drop->add_option("name", *name, "Collection name")->required();
  drop->callback([name, &context] {
    context.run = [name](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      v1::DropCollectionRequest request;
      request.set_name(*name);
      ASSIGN_OR_RETURN(v1::DropCollectionResponse response, client->DropCollection(request));
      std::printf("dropped collection %s (%llu vectors)\n", name->c_str(),
                  static_cast<unsigned long long>(response.dropped_vectors()));
      return absl::OkStatus();
    };
  });
}

}  // namespace

void AddCollectionCommands(CLI::App& app, CliContext& context) {
  CLI::App* collection =
      app.add_subcommand("collection", "Create, list, describe, drop; set the default budget");
  collection->require_subcommand(1);
  AddCreate(*collection, context);
  AddList(*collection, context);
  AddDescribe(*collection, context);
  AddDrop(*collection, context);
  AddSetBudget(*collection, context);
}

}  // namespace adanns::client
