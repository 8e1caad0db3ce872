// `adanns ingest`: streams a vector file (.npy, .fvecs, .hdf5) into a collection with progress.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "client/commands/cli_context.h"
#include "client/progress.h"
#include "client/readers/vector_reader.h"

namespace adanns::client {
namespace {

struct IngestArgs {
  std::string collection;
  std::string file;
  std::string dataset = "train";
  uint64_t id_offset = 0;
  size_t batch_bytes = 0;  // 0 = the client default
};

absl::Status Ingest(CliContext& context, const IngestArgs& args) {
  readers::ReaderOptions reader_options;
  reader_options.dataset = args.dataset;
  ASSIGN_OR_RETURN(std::unique_ptr<readers::VectorReader> reader,
                   readers::OpenVectorFile(args.file, reader_options));
  ASSIGN_OR_RETURN(Client * client, context.client());
  // Checked here so a wrong file fails before anything is sent.
  v1::DescribeCollectionRequest describe;
  describe.set_name(args.collection);
  ASSIGN_OR_RETURN(v1::CollectionInfo info, client->DescribeCollection(describe));
  if (info.dim() != reader->dim()) {
    return absl::InvalidArgumentError(absl::StrCat(args.file, " has vectors of dim ", reader->dim(),
                                                   ", but collection ", args.collection,
                                                   " has dim ", info.dim()));
  }
  std::fprintf(stderr, "ingesting %llu vectors of dim %u from %s into %s (ids %llu..)\n",
               static_cast<unsigned long long>(reader->rows()), reader->dim(), args.file.c_str(),
               args.collection.c_str(), static_cast<unsigned long long>(args.id_offset));
  ProgressOptions progress_options;
  progress_options.verb = "ingested";
  ProgressReporter progress(reader->rows(), std::cerr, progress_options);
  absl::StatusOr<uint64_t> committed =
      client->UpsertFromReader(args.collection, *reader, args.id_offset,
                               [&progress](uint64_t sent, uint64_t) { progress.Update(sent); });
  if (!committed.ok()) {
    progress.EndLine();
    return committed.status();
  }
  progress.Finish(*committed);
  return absl::OkStatus();
}

}  // namespace

void AddIngestCommand(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<IngestArgs>();
  CLI::App* ingest =
      app.add_subcommand("ingest",
                         "Upsert every vector of a .npy, .fvecs or .hdf5/.h5 file, row i with id "
                         "id-offset + i");
  ingest->add_option("--collection", args->collection, "Target collection")->required();
  ingest->add_option("file", args->file, "Vector file")->required();
  ingest->add_option("--dataset", args->dataset, "HDF5 dataset to read")->capture_default_str();
  ingest->add_option("--id-offset", args->id_offset, "Id of the file's first row")
      ->capture_default_str();
  ingest->add_option("--batch-bytes", args->batch_bytes,
                     "Largest Upsert message in bytes (default: just under 4 MB)");
  ingest->callback([args, &context] {
    if (args->batch_bytes > 0) {
      ClientOptions& options = context.client_options;
      options.upsert_message_bytes = args->batch_bytes;
      // Let the channel carry what was asked for; the server's own limit still applies.
      const size_t needed = args->batch_bytes + (64 << 10);
      if (needed > static_cast<size_t>(options.max_message_bytes) && needed < (2u << 30)) {
        options.max_message_bytes = static_cast<int>(needed);
      }
    }
    context.run = [args](CliContext& run_context) { return Ingest(run_context, *args); };
  });
}

}  // namespace adanns::client
