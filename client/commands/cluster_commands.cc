// `adanns cluster move-shard`: administration of a cluster through a router.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "client/commands/cli_context.h"

namespace adanns::client {

void AddClusterCommands(CLI::App& app, CliContext& context) {
  CLI::App* cluster =
      app.add_subcommand("cluster", "Administer a cluster (through one of its routers)");
  cluster->require_subcommand(1);

  auto request = std::make_shared<v1::MoveShardRequest>();
  auto collection = std::make_shared<std::string>();
  auto shard = std::make_shared<uint32_t>(0);
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto timeout_seconds = std::make_shared<double>(3600);
  CLI::App* move = cluster->add_subcommand(
      "move-shard",
      "Move one copy of a shard to another data node: the new copy catches up (full copy, then "
      "the primary's WAL) and joins the in-sync set before the old one is dropped. Waits up to "
      "--timeout; run it again to keep waiting, or move the shard back to cancel");
  move->add_option("collection", *collection, "Collection name")->required();
  move->add_option("shard", *shard, "Shard number")->required();
  move->add_option("--from", *from, "Data node id holding the copy to move")->required();
  move->add_option("--to", *to, "Live data node id to move it to")->required();
  move->add_option("--timeout", *timeout_seconds, "Seconds to wait for the new copy to catch up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  move->callback([=, &context] {
    context.client_options.call_timeout =
        std::chrono::milliseconds(static_cast<int64_t>(*timeout_seconds * 1000));
    context.run = [=](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      request->set_collection(*collection);
      request->set_shard(*shard);
      request->set_from_node(*from);
      request->set_to_node(*to);
      ASSIGN_OR_RETURN(const v1::MoveShardResponse moved, client->MoveShard(*request));
      std::printf("shard %u of '%s' %s: copies %s, in sync %s, primary %s (epoch %llu)\n", *shard,
                  collection->c_str(), moved.already_done() ? "was already moved" : "moved",
                  absl::StrJoin(moved.replicas(), ",").c_str(),
                  absl::StrJoin(moved.in_sync(), ",").c_str(), moved.primary().c_str(),
                  static_cast<unsigned long long>(moved.epoch()));
      if (!moved.already_done()) {
        std::printf("new copy caught up in %.1f s\n", moved.catch_up_seconds());
      }
      if (!moved.old_copy_dropped()) {
        std::printf("note: node %s could not drop its old copy (down?); its directory stays\n",
                    from->c_str());
      }
      return absl::OkStatus();
    };
  });
}

}  // namespace adanns::client
