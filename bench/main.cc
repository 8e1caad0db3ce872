// adanns-bench: prepares benchmark data sets and runs the recall/latency harness.
// Flags live here only; each subcommand's work is in its own file.
#include <CLI/CLI.hpp>

#include "bench/prepare_command.h"
#include "bench/run_command.h"

int main(int argc, char** argv) {
  CLI::App app{"adanns-bench: benchmark data sets and harness for adanns"};
  app.require_subcommand(1);

  CLI::App* prepare = app.add_subcommand("prepare", "Write a prepared data set folder");
  prepare->require_subcommand(1);

  // Options every preparation shares: where it writes and with how many threads.
  const auto add_output_options = [](CLI::App* command, adanns::bench::PrepareOutput& output) {
    command->add_option("--out", output.out_dir, "Output folder")->required();
    command->add_option("--hdf5", output.hdf5_path,
                        "Also write the set as an ann-benchmarks HDF5 file (train, test, "
                        "neighbors, distances; attribute distance)");
    command->add_option("--threads", output.threads, "Compute threads (0 = all cores)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
  };
  // Both Fashion-MNIST preparations take the same options.
  const auto add_fmnist_command = [&](const char* name, const char* description,
                                      adanns::bench::PrepareFashionMnistArgs& args) {
    CLI::App* command = prepare->add_subcommand(name, description);
    add_output_options(command, args.output);
    command
        ->add_option("--source-dir", args.dataset.source_dir,
                     "Folder with train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz")
        ->capture_default_str();
    command
        ->add_option("--queries", args.dataset.queries, "Keep the first N test images as queries")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    command->add_option("--gt-k", args.dataset.gt_k, "Ground-truth neighbours per query")
        ->check(CLI::Range(1, 60000))
        ->capture_default_str();
    command
        ->add_option("--duplicates", args.duplicates,
                     "Append this fraction of the rows again as near duplicates (noise 0.1% of "
                     "the row's norm), ground truth recomputed; name gets -dup<percent>")
        ->check(CLI::Range(0.0, 1.0));
    return command;
  };

  adanns::bench::PrepareFashionMnistArgs fmnist;
  CLI::App* fmnist_cmd = add_fmnist_command(
      "fashion-mnist",
      "Fashion-MNIST, centred and rotated by its full PCA (decreasing variance), with exact L2 "
      "ground truth: base.npy, queries.npy, groundtruth.npy, info.json",
      fmnist);
  adanns::bench::PrepareFashionMnistArgs fmnist_angular;
  fmnist_angular.angular = true;
  CLI::App* fmnist_angular_cmd = add_fmnist_command(
      "fashion-mnist-angular",
      "Fashion-MNIST-PCA with every row scaled to unit L2 norm and exact cosine ground truth "
      "(distance = angular)",
      fmnist_angular);

  adanns::bench::PrepareSyntheticArgs synthetic;
  CLI::App* synthetic_cmd = prepare->add_subcommand(
      "synthetic",
      "Seeded Matryoshka-like data: Gaussian clusters with a decaying per-dim spectrum (variance "
      "(j+1)^-decay), queries from the same distribution, exact L2 ground truth");
  add_output_options(synthetic_cmd, synthetic.output);
  synthetic_cmd->add_option("--n", synthetic.dataset.n, "Base vectors")
      ->required()
      ->check(CLI::Range(uint64_t{1}, uint64_t{2147483647}));
  synthetic_cmd->add_option("--dim", synthetic.dataset.dim, "Dims per vector")
      ->required()
      ->check(CLI::Range(1, 65536));
  synthetic_cmd->add_option("--queries", synthetic.dataset.queries, "Query vectors")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  synthetic_cmd
      ->add_option("--clusters", synthetic.dataset.clusters,
                   "Cluster centres (0 = round(sqrt(n)), at most 4096)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  synthetic_cmd->add_option("--seed", synthetic.dataset.seed, "Random seed")->capture_default_str();
  synthetic_cmd->add_option("--gt-k", synthetic.dataset.gt_k, "Ground-truth neighbours per query")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  synthetic_cmd
      ->add_option("--decay", synthetic.dataset.spectrum_decay,
                   "Spectrum decay: dim j has variance (j+1)^-decay")
      ->check(CLI::Range(0.0, 16.0))
      ->capture_default_str();
  synthetic_cmd
      ->add_option("--noise", synthetic.dataset.noise,
                   "Spread of points around their centre, relative to the centres' spread")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();

  adanns::bench::RunArgs run;
  CLI::App* run_cmd = app.add_subcommand(
      "run",
      "Sweep methods over a data set: recall@k, QPS, latency, MFLOPs; JSON, CSV, table, plot");
  run_cmd->add_option("--data", run.data, "Prepared folder or ann-benchmarks .hdf5 file")
      ->required();
  run_cmd
      ->add_option("--methods", run.methods,
                   "Comma list: flat, funnel, faiss-flat, faiss-ivf, faiss-opq, hnswlib, ...")
      ->required();
  run_cmd->add_option("--json", run.json_out, "JSON report (the table goes to <json>.table.txt)")
      ->required();
  run_cmd->add_option("--csv", run.csv_out, "CSV report, one row per point");
  run_cmd->add_option("--plot", run.plot_out, "Recall/QPS PNG (needs gnuplot)");
  run_cmd->add_option("--queries", run.queries, "Use the first N queries (0 = all)")
      ->capture_default_str();
  run_cmd->add_option("--k", run.k, "Neighbours per query")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  run_cmd->add_option("--threads", run.threads, "Search threads")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run_cmd
      ->add_option("--query-threads", run.query_threads,
                   "Query threads over disjoint slices of the queries, one query per call each "
                   "(aggregate QPS; needs --batch 1)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run_cmd->add_option("--batch", run.batch, "Queries per batch call (1 = one at a time)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  run_cmd->add_option("--grid", run.grid_file,
                      "Grid file replacing default sweeps (bench/README.md)");
  run_cmd
      ->add_option("--repeat", run.repeat,
                   "Measurements of every point, interleaved across methods; medians reported "
                   "with the min/max spread")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  run_cmd->add_flag("--one-method-at-a-time", run.one_method_at_a_time,
                    "Build, measure and free one method at a time (large data sets) instead of "
                    "holding every method's index to interleave repetitions across methods");
  run_cmd
      ->add_option("--huge-pages", run.huge_pages,
                   "all: every method's memory advised and collapsed after its build; none; "
                   "ours: only ours advised (the old asymmetric mode, to show the effect)")
      ->check(CLI::IsMember({"all", "none", "ours"}))
      ->capture_default_str();
  run_cmd->add_flag("--allow-dirty", run.allow_dirty,
                    "Run from a tree with uncommitted changes (the report says \"clean\": false)");
  run_cmd
      ->add_option("--max-seconds-per-point", run.max_seconds_per_point,
                   "Stop a point's queries once this many seconds have passed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  int exit_code = 0;
  run_cmd->callback([&] { exit_code = adanns::bench::RunBenchCommand(run); });
  fmnist_cmd->callback([&] { exit_code = adanns::bench::RunPrepareFashionMnist(fmnist); });
  fmnist_angular_cmd->callback(
      [&] { exit_code = adanns::bench::RunPrepareFashionMnist(fmnist_angular); });
  synthetic_cmd->callback([&] { exit_code = adanns::bench::RunPrepareSynthetic(synthetic); });
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
