// `adanns snapshot create | list`: consistent server-side snapshots (restore is offline:
// adanns-server --restore_from=DIR).
#include <cstdio>
#include <memory>
#include <string>

#include "base/status_macros.h"
#include "client/commands/cli_context.h"

namespace adanns::client {
namespace {

void PrintSnapshot(const v1::SnapshotInfo& info) {
  std::printf("%s  %s  %.1f MiB  created %lld\n", info.name().c_str(), info.path().c_str(),
              static_cast<double>(info.bytes()) / (1 << 20),
              static_cast<long long>(info.created_unix_seconds()));
}

}  // namespace

void AddSnapshotCommands(CLI::App& app, CliContext& context) {
  CLI::App* snapshot = app.add_subcommand(
      "snapshot", "Create and list server-side snapshots (restore: adanns-server --restore_from)");
  snapshot->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  CLI::App* create = snapshot->add_subcommand(
      "create", "Snapshot every collection, its vectors, indexes and calibration, as of now");
  create->add_option("name", *name, "Snapshot name (default: snapshot-<UTC time>)");
  create->callback([name, &context] {
    context.run = [name](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      v1::CreateSnapshotRequest request;
      request.set_name(*name);
      ASSIGN_OR_RETURN(const v1::SnapshotInfo info, client->CreateSnapshot(request));
      PrintSnapshot(info);
      return absl::OkStatus();
    };
  });

  CLI::App* list = snapshot->add_subcommand("list", "List the server's snapshots");
  list->callback([&context] {
    context.run = [](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      ASSIGN_OR_RETURN(const v1::ListSnapshotsResponse response, client->ListSnapshots());
      for (const v1::SnapshotInfo& info : response.snapshots()) PrintSnapshot(info);
      return absl::OkStatus();
    };
  });
}

}  // namespace adanns::client
