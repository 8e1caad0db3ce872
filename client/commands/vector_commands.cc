// `adanns get` and `adanns delete`: vectors by id (requests are split at the server's 100000-id
// limit).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "client/commands/cli_context.h"
#include "client/readers/json_writer.h"

namespace adanns::client {
namespace {

using readers::JsonArray;
using readers::JsonNumber;
using readers::JsonObject;
using readers::JsonString;

struct IdsArgs {
  std::string collection;
  std::vector<uint64_t> ids;
  bool json = false;
};

// Calls `request_chunk(first, count)` for consecutive chunks of at most kMaxVectorsPerMessage ids.
template <typename Fn>
absl::Status ForEachIdChunk(const std::vector<uint64_t>& ids, Fn request_chunk) {
  for (size_t start = 0; start < ids.size(); start += kMaxVectorsPerMessage) {
    RETURN_IF_ERROR(
        request_chunk(ids.data() + start, std::min(kMaxVectorsPerMessage, ids.size() - start)));
  }
  return absl::OkStatus();
}

void PrintVector(const v1::Vector& vector, bool json) {
  if (json) {
    JsonObject object;
    object.Add("id", JsonNumber(uint64_t{vector.id()}))
        .Add("values",
             JsonArray(std::span<const float>(vector.values().data(), vector.values().size())));
    std::printf("%s\n", object.str().c_str());
    return;
  }
  std::string values;
  for (int i = 0; i < vector.values_size(); ++i) {
    absl::StrAppend(&values, i > 0 ? " " : "", JsonNumber(vector.values(i)));
  }
  std::printf("%llu: %s\n", static_cast<unsigned long long>(vector.id()), values.c_str());
}

absl::Status Get(CliContext& context, const IdsArgs& args) {
  ASSIGN_OR_RETURN(Client * client, context.client());
  std::vector<uint64_t> missing;
  RETURN_IF_ERROR(ForEachIdChunk(args.ids, [&](const uint64_t* ids, size_t count) {
    v1::GetRequest request;
    request.set_collection(args.collection);
    request.mutable_ids()->Add(ids, ids + count);
    ASSIGN_OR_RETURN(v1::GetResponse response, client->Get(request));
    for (const v1::Vector& vector : response.vectors()) {
      PrintVector(vector, args.json);
    }
    missing.insert(missing.end(), response.missing_ids().begin(), response.missing_ids().end());
    return absl::OkStatus();
  }));
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat(missing.size(), " of ", args.ids.size(),
                                            " ids are not stored in ", args.collection, ": ",
                                            absl::StrJoin(missing, ", ")));
  }
  return absl::OkStatus();
}

absl::Status Delete(CliContext& context, const IdsArgs& args) {
  ASSIGN_OR_RETURN(Client * client, context.client());
  uint64_t deleted = 0;
  RETURN_IF_ERROR(ForEachIdChunk(args.ids, [&](const uint64_t* ids, size_t count) {
    v1::DeleteRequest request;
    request.set_collection(args.collection);
    request.mutable_ids()->Add(ids, ids + count);
    ASSIGN_OR_RETURN(v1::DeleteResponse response, client->Delete(request));
    deleted += response.deleted();
    return absl::OkStatus();
  }));
  std::printf("deleted %llu of %zu ids from %s\n", static_cast<unsigned long long>(deleted),
              args.ids.size(), args.collection.c_str());
  return absl::OkStatus();
}

std::shared_ptr<IdsArgs> AddIdsOptions(CLI::App& command) {
  auto args = std::make_shared<IdsArgs>();
  command.add_option("--collection", args->collection, "Collection name")->required();
  command.add_option("ids", args->ids, "Vector ids")->required();
  return args;
}

}  // namespace

void AddVectorCommands(CLI::App& app, CliContext& context) {
  CLI::App* get =
      app.add_subcommand("get", "Print stored vectors (NOT_FOUND if any id is missing)");
  std::shared_ptr<IdsArgs> get_args = AddIdsOptions(*get);
  get->add_flag("--json", get_args->json, "One JSON object per vector on stdout");
  get->callback([get_args, &context] {
    context.run = [get_args](CliContext& run_context) { return Get(run_context, *get_args); };
  });

  CLI::App* remove = app.add_subcommand("delete", "Delete vectors by id (unknown ids are ignored)");
  std::shared_ptr<IdsArgs> delete_args = AddIdsOptions(*remove);
  remove->callback([delete_args, &context] {
    context.run = [delete_args](CliContext& run_context) {
      return Delete(run_context, *delete_args);
    };
  });
}

}  // namespace adanns::client
