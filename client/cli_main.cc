// `adanns`: command-line client for the adanns server (collections, ingest, search, get, delete).
// Flags live here; each group of subcommands is implemented in client/commands/.
#include <chrono>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "base/message_buffers.h"
#include "client/client.h"
#include "client/commands/cli_context.h"

int main(int argc, char** argv) {
  // An ingest serializes one ~4 MB message after another; the client is short-lived, so it keeps
  // up to 256 MiB of free heap top.
  adanns::KeepMessageBuffersInHeap(256 << 20);
  using adanns::client::CliContext;
  CLI::App app("adanns: client for the adanns Matryoshka-embedding search server", "adanns");
  CliContext context;
  double connect_timeout_seconds = 5;
  double retry_max_seconds = 10;
  bool verbose = false;
  app.add_option("--server", context.server, "Server address HOST:PORT")
      ->envname("ADANNS_SERVER")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout_seconds,
                 "Seconds to wait for the server to accept the connection")
      ->capture_default_str();
  adanns::client::ClientOptions& options = context.client_options;
  app.add_option("--api-key", options.api_key,
                 "API key sent as \"authorization: Bearer KEY\" (servers with --api_keys_file)")
      ->envname("ADANNS_API_KEY");
  app.add_option("--tls-ca", options.tls_ca_file,
                 "PEM CA of the server's certificate: connect with TLS")
      ->envname("ADANNS_TLS_CA");
  app.add_option("--tls-cert", options.tls_cert_file, "PEM client certificate (mutual TLS)");
  app.add_option("--tls-key", options.tls_key_file, "PEM client key (mutual TLS)");
  app.add_option("--tls-server-name", options.tls_server_name,
                 "Name to check the server's certificate against (default: the --server host)");
  app.add_option("--retry-max-seconds", retry_max_seconds,
                 "Idempotent calls (search, get, delete, describe, list, set-budget) "
                 "are retried on UNAVAILABLE (a restart or failover) with backoff from 50 ms to "
                 "1 s for up to this many seconds; 0: no retries. Ingest is not retried")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--retry-max-attempts", options.retry.max_attempts,
                 "Most attempts of one idempotent call, the first included")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "Print each retry on stderr");
  app.require_subcommand(1);
  adanns::client::AddCollectionCommands(app, context);
  adanns::client::AddIngestCommand(app, context);
  adanns::client::AddSearchCommand(app, context);
  adanns::client::AddVectorCommands(app, context);
  adanns::client::AddIndexCommands(app, context);
  adanns::client::AddSnapshotCommands(app, context);
  adanns::client::AddClusterCommands(app, context);
  CLI11_PARSE(app, argc, argv);

  context.client_options.connect_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(connect_timeout_seconds * 1000));
  context.client_options.retry.max_retry_time =
      std::chrono::milliseconds(static_cast<int64_t>(retry_max_seconds * 1000));
  if (verbose) {
    context.client_options.on_retry = [](int failed_attempt, const absl::Status& status,
                                         std::chrono::milliseconds wait) {
      std::fprintf(stderr, "retry: attempt %d failed with %s: %.*s; retrying in %lld ms\n",
                   failed_attempt, absl::StatusCodeToString(status.code()).c_str(),
                   static_cast<int>(status.message().size()), status.message().data(),
                   static_cast<long long>(wait.count()));
    };
  }
  const absl::Status status = context.run(context);
  if (!status.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s: %.*s\n", absl::StatusCodeToString(status.code()).c_str(),
                 static_cast<int>(status.message().size()), status.message().data());
    return 1;
  }
  return 0;
}
