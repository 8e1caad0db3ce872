#include "client/commands/cli_context.h"

#include "base/status_macros.h"

namespace adanns::client {

absl::StatusOr<Client*> CliContext::client() {
  if (client_ == nullptr) {
    ASSIGN_OR_RETURN(client_, Client::Connect(server, client_options));
  }
  return client_.get();
}

}  // namespace adanns::client
