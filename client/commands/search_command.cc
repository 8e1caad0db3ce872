// `adanns search`: one query from the command line or many from a file, with an explicit plan or
// a compute budget; prints plan, cost, ids and scores (or one JSON object per query).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "client/commands/cli_context.h"
#include "client/readers/json_writer.h"
#include "client/readers/vector_reader.h"

namespace adanns::client {
namespace {

using readers::JsonArray;
using readers::JsonNumber;
using readers::JsonObject;
using readers::JsonString;

// Queries per SearchBatch call are also capped by this many bytes of query floats.
constexpr size_t kMaxQueriesPerBatch = 1024;
constexpr size_t kMaxBatchQueryBytes = 2 << 20;

struct SearchArgs {
  std::string collection;
  std::vector<float> query;
  std::string queries_file;
  std::string dataset = "test";
  uint64_t limit = 0;  // 0 = every query in the file
  uint32_t k = 10;
  std::string index;
  std::optional<uint32_t> coarse_dims;
  std::optional<uint32_t> nprobe;
  std::optional<uint32_t> search_dims;
  std::optional<uint32_t> rerank_dims;
  std::optional<uint32_t> rerank_candidates;
  std::optional<uint32_t> ef;
  std::string codebook;
  std::optional<double> max_mflops;
  std::optional<float> target_recall;
  std::optional<uint32_t> max_dims;
  std::string device = "auto";
  std::string session_key;
  bool json = false;
};

v1::Device DeviceOf(const SearchArgs& args) {
  if (args.device == "cpu") return v1::DEVICE_CPU;
  if (args.device == "gpu") return v1::DEVICE_GPU;
  return v1::DEVICE_AUTO;
}

bool HasPlanOptions(const SearchArgs& args) {
  return !args.index.empty() || args.coarse_dims || args.nprobe || args.search_dims ||
         args.rerank_dims || args.rerank_candidates || args.ef || !args.codebook.empty();
}

// A budget with no limit set means the automatic plan; it is then left out of the request.
absl::StatusOr<v1::Budget> MakeBudget(const SearchArgs& args) {
  const int kinds =
      (HasPlanOptions(args) ? 1 : 0) + (args.max_mflops ? 1 : 0) + (args.target_recall ? 1 : 0);
  if (kinds > 1) {
    return absl::InvalidArgumentError(
        "choose one budget: plan options (--index, --search-dims, ...), --max-mflops or "
        "--target-recall");
  }
  v1::Budget budget;
  if (args.max_mflops) {
    budget.set_max_mflops(*args.max_mflops);
  }
  if (args.target_recall) {
    budget.set_target_recall(*args.target_recall);
  }
  if (args.max_dims) budget.set_max_dims(*args.max_dims);
  if (HasPlanOptions(args)) {
    v1::Plan* plan = budget.mutable_plan();
    plan->set_index(args.index);
    if (args.coarse_dims) {
      plan->set_coarse_dims(*args.coarse_dims);
    }
    if (args.nprobe) {
      plan->set_nprobe(*args.nprobe);
    }
    if (args.search_dims) {
      plan->set_search_dims(*args.search_dims);
    }
    if (args.rerank_dims) {
      plan->set_rerank_dims(*args.rerank_dims);
    }
    if (args.ef) plan->set_ef(*args.ef);
    plan->set_codebook(args.codebook);
    if (args.rerank_candidates) {
      plan->set_rerank_candidates(*args.rerank_candidates);
    }
  }
  return budget;
}

// (name, value) of every plan field that is set, in proto order.
std::vector<std::pair<std::string, uint32_t>> PlanFields(const v1::Plan& plan) {
  std::vector<std::pair<std::string, uint32_t>> fields;
  if (plan.has_coarse_dims()) {
    fields.emplace_back("coarse_dims", plan.coarse_dims());
  }
  if (plan.has_nprobe()) {
    fields.emplace_back("nprobe", plan.nprobe());
  }
  if (plan.has_search_dims()) {
    fields.emplace_back("search_dims", plan.search_dims());
  }
  if (plan.has_rerank_dims()) {
    fields.emplace_back("rerank_dims", plan.rerank_dims());
  }
  if (plan.has_rerank_candidates()) {
    fields.emplace_back("rerank_candidates", plan.rerank_candidates());
  }
  if (plan.has_ef()) fields.emplace_back("ef", plan.ef());
  return fields;
}

}  // namespace

std::string PlanText(const v1::Plan& plan) {
  std::string text = absl::StrCat("index=", plan.index().empty() ? "auto" : plan.index());
  if (!plan.codebook().empty()) absl::StrAppend(&text, " codebook=", plan.codebook());
  for (const auto& [name, value] : PlanFields(plan)) {
    absl::StrAppend(&text, " ", name, "=", value);
  }
  return text;
}

namespace {

std::string PlanJson(const v1::Plan& plan) {
  JsonObject object;
  object.Add("index", JsonString(plan.index()));
  if (!plan.codebook().empty()) object.Add("codebook", JsonString(plan.codebook()));
  for (const auto& [name, value] : PlanFields(plan)) {
    object.Add(name, JsonNumber(uint64_t{value}));
  }
  return object.str();
}

void PrintResult(uint64_t query_index, const v1::SearchResponse& result, bool json) {
  if (json) {
    std::string ids = "[", scores = "[";
    for (int i = 0; i < result.hits_size(); ++i) {
      const char* separator = i > 0 ? "," : "";
      absl::StrAppend(&ids, separator, result.hits(i).id());
      absl::StrAppend(&scores, separator, JsonNumber(result.hits(i).score()));
    }
    JsonObject cost;
    cost.Add("mflops", JsonNumber(result.cost().mflops()))
        .Add("vectors_scanned", JsonNumber(uint64_t{result.cost().vectors_scanned()}))
        .Add("capped", result.cost().capped() ? "true" : "false");
    JsonObject object;
    object.Add("query", JsonNumber(query_index))
        .Add("ids", ids + "]")
        .Add("scores", scores + "]")
        .Add("plan", PlanJson(result.plan()))
        .Add("cost", cost.str());
    if (result.has_estimate()) {
      JsonObject estimate;
      estimate.Add("recall", JsonNumber(result.estimate().recall()))
          .Add("recall_lower_bound", JsonNumber(result.estimate().recall_lower_bound()))
          .Add("queries", JsonNumber(uint64_t{result.estimate().queries()}))
          .Add("k", JsonNumber(uint64_t{result.estimate().k()}))
          .Add("mflops", JsonNumber(result.estimate().mflops()));
      object.Add("estimate", estimate.str());
    }
    if (result.target_missed()) object.Add("target_missed", "true");
    if (!result.device().empty()) object.Add("device", JsonString(result.device()));
    std::printf("%s\n", object.str().c_str());
    return;
  }
  std::string notes;
  if (result.cost().capped()) notes += ", stopped at the MFLOPs cap";
  if (result.has_estimate()) {
    absl::StrAppend(&notes, ", calibrated recall@", result.estimate().k(), " ",
                    JsonNumber(result.estimate().recall()), " (95% lower bound ",
                    JsonNumber(result.estimate().recall_lower_bound()), ", ",
                    result.estimate().queries(), " queries)");
  }
  if (result.target_missed()) notes += " (target not reachable: best plan used)";
  if (!result.device().empty() && result.device() != "cpu") {
    absl::StrAppend(&notes, ", on ", result.device());
  }
  std::printf("query %llu: plan %s, cost %.4g MFLOPs (%llu vectors scanned)%s\n",
              static_cast<unsigned long long>(query_index), PlanText(result.plan()).c_str(),
              result.cost().mflops(),
              static_cast<unsigned long long>(result.cost().vectors_scanned()), notes.c_str());
  for (int i = 0; i < result.hits_size(); ++i) {
    std::printf("  %3d  id=%llu  score=%s\n", i + 1,
                static_cast<unsigned long long>(result.hits(i).id()),
                JsonNumber(result.hits(i).score()).c_str());
  }
}

absl::Status SearchOne(CliContext& context, const SearchArgs& args, const v1::Budget& budget) {
  v1::SearchRequest request;
  request.set_collection(args.collection);
  request.mutable_query()->Add(args.query.begin(), args.query.end());
  request.set_k(args.k);
  request.set_device(DeviceOf(args));
  request.set_session_key(args.session_key);
  if (budget.ByteSizeLong() > 0) *request.mutable_budget() = budget;
  ASSIGN_OR_RETURN(Client * client, context.client());
  ASSIGN_OR_RETURN(v1::SearchResponse response, client->Search(request));
  PrintResult(0, response, args.json);
  return absl::OkStatus();
}

absl::Status SearchFile(CliContext& context, const SearchArgs& args, const v1::Budget& budget) {
  readers::ReaderOptions reader_options;
  reader_options.dataset = args.dataset;
  ASSIGN_OR_RETURN(std::unique_ptr<readers::VectorReader> reader,
                   readers::OpenVectorFile(args.queries_file, reader_options));
  ASSIGN_OR_RETURN(Client * client, context.client());
  const uint32_t dim = reader->dim();
  const uint64_t total =
      args.limit > 0 ? std::min<uint64_t>(args.limit, reader->rows()) : reader->rows();
  const size_t per_batch = std::clamp<size_t>(kMaxBatchQueryBytes / (size_t{dim} * sizeof(float)),
                                              1, kMaxQueriesPerBatch);
  std::vector<float> queries(per_batch * dim);
  v1::SearchBatchRequest request;
  request.set_collection(args.collection);
  request.set_query_dims(dim);
  request.set_k(args.k);
  request.set_device(DeviceOf(args));
  request.set_session_key(args.session_key);
  if (budget.ByteSizeLong() > 0) *request.mutable_budget() = budget;
  for (uint64_t done = 0; done < total;) {
    const size_t wanted = static_cast<size_t>(std::min<uint64_t>(per_batch, total - done));
    ASSIGN_OR_RETURN(const size_t got, reader->Read(wanted, queries.data()));
    if (got == 0) {
      break;
    }
    request.mutable_queries()->Clear();
    request.mutable_queries()->Add(queries.begin(), queries.begin() + got * dim);
    ASSIGN_OR_RETURN(v1::SearchBatchResponse response, client->SearchBatch(request));
    if (response.results_size() != static_cast<int>(got)) {
      return absl::InternalError(absl::StrCat("the server answered ", response.results_size(),
                                              " results for ", got, " queries"));
    }
    for (size_t i = 0; i < got; ++i) {
      PrintResult(done + i, response.results(i), args.json);
    }
    done += got;
  }
  return absl::OkStatus();
}

}  // namespace

void AddSearchCommand(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* search = app.add_subcommand("search", "Top-k search with a plan or a compute budget");
  search->add_option("--collection", args->collection, "Collection to search")->required();
  CLI::Option* query = search
                           ->add_option("--query", args->query,
                                        "One query: comma-separated floats (a prefix "
                                        "of the embedding is enough for short plans)")
                           ->delimiter(',');
  CLI::Option* file = search->add_option("--queries-file", args->queries_file,
                                         "Queries from a .npy, .fvecs or .hdf5/.h5 file");
  query->excludes(file);
  search->add_option("--dataset", args->dataset, "HDF5 dataset of --queries-file")
      ->capture_default_str();
  search->add_option("--limit", args->limit, "Search only the first N queries of the file");
  search->add_option("--k", args->k, "Hits per query")->capture_default_str();
  search->add_option("--index", args->index,
                     "Index of an explicit plan: flat, ivf, hnsw, opq, ivf_opq");
  search->add_option("--coarse-dims", args->coarse_dims, "IVF: prefix used to rank centroids");
  search->add_option("--nprobe", args->nprobe, "IVF: lists probed");
  search->add_option("--search-dims", args->search_dims, "Prefix length of the scan stage");
  search->add_option("--rerank-dims", args->rerank_dims, "Prefix length of the exact re-rank");
  search->add_option("--rerank-candidates", args->rerank_candidates,
                     "Candidates kept for the re-rank (codebook plans: 0 = no re-rank)");
  search->add_option("--ef", args->ef, "HNSW: beam width of the graph search");
  search->add_option("--codebook", args->codebook,
                     "opq, ivf_opq: codebook name, e.g. opq128x16 (default: the only one)");
  search->add_option("--max-mflops", args->max_mflops, "Budget: MFLOPs per query at most");
  search->add_option("--target-recall", args->target_recall,
                     "Budget: recall@k to reach (needs a calibrated collection)");
  search->add_option("--max-dims", args->max_dims,
                     "Budget: longest prefix any stage may read (with any of the above)");
  search
      ->add_option("--device", args->device,
                   "auto (the GPU when the server has one and the plan is flat), cpu or gpu")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}))
      ->capture_default_str();
  search->add_option("--session-key", args->session_key,
                     "Cluster: the same key reads the same replica of each shard (results do not "
                     "flicker between replicas); default: replicas in turn");
  search->add_flag("--json", args->json, "One JSON object per query on stdout");
  search->callback([args, query, file, &context] {
    if (query->count() == 0 && file->count() == 0) {
      throw CLI::RequiredError("--query or --queries-file");
    }
    context.run = [args](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(v1::Budget budget, MakeBudget(*args));
      if (!args->queries_file.empty()) {
        return SearchFile(run_context, *args, budget);
      }
      return SearchOne(run_context, *args, budget);
    };
  });
}

}  // namespace adanns::client
