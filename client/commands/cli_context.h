// What the `adanns` subcommands share: the global options, the command chosen on the command
// line (run after connecting), and the functions that register each group of subcommands.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "client/client.h"

namespace adanns::client {

class CliContext {
 public:
  // Server address, "host:port"; --server or ADANNS_SERVER.
  std::string server = "127.0.0.1:50051";
  // Options of the connection; subcommands may adjust them (ingest --batch-bytes).
  ClientOptions client_options;
  // Set by the chosen subcommand's parse callback; main() runs it.
  std::function<absl::Status(CliContext&)> run;

  // Connects on first use, so a command can check its own inputs (files, options) before it
  // needs a server.
  absl::StatusOr<Client*> client();

 private:
  std::unique_ptr<Client> client_;
};

// collection create | list | describe | drop
void AddCollectionCommands(CLI::App& app, CliContext& context);
// ingest
void AddIngestCommand(CLI::App& app, CliContext& context);
// search
void AddSearchCommand(CLI::App& app, CliContext& context);
// get, delete
void AddVectorCommands(CLI::App& app, CliContext& context);
// index build | describe | drop
void AddIndexCommands(CLI::App& app, CliContext& context);
// snapshot create | list
void AddSnapshotCommands(CLI::App& app, CliContext& context);
// cluster move-shard
void AddClusterCommands(CLI::App& app, CliContext& context);

// One index of DescribeCollection, on a line (and its parameters / error below it).
void PrintIndexInfo(const v1::IndexInfo& index);
// "index=ivf nprobe=8 ...": the plan's index, codebook and set fields.
std::string PlanText(const v1::Plan& plan);
// index calibrate | frontier
void AddCalibrationCommands(CLI::App& index_group, CliContext& context);
// The collection's calibration state, and the same once it has left "calibrating" (polled, with
// a progress bar on stderr).
absl::StatusOr<v1::CalibrationInfo> DescribeCalibration(Client& client,
                                                        const std::string& collection);
absl::StatusOr<v1::CalibrationInfo> WaitForCalibration(Client& client,
                                                       const std::string& collection,
                                                       v1::CalibrationInfo info);

}  // namespace adanns::client
