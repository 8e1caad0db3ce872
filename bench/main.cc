// adanns-bench: prepares benchmark data sets (and, later, runs the recall/latency harness).
// Flags live here only; each subcommand's work is in its own file.
#include <CLI/CLI.hpp>

#include "bench/prepare_command.h"

int main(int argc, char** argv) {
  CLI::App app{"adanns-bench: benchmark data sets and harness for adanns"};
  app.require_subcommand(1);

  CLI::App* prepare = app.add_subcommand("prepare", "Write a prepared data set folder");
  prepare->require_subcommand(1);

  adanns::bench::PrepareFashionMnistArgs fmnist;
  CLI::App* fmnist_cmd = prepare->add_subcommand(
      "fashion-mnist",
      "Fashion-MNIST, centred and rotated by its full PCA (decreasing variance), with exact L2 "
      "ground truth: base.npy, queries.npy, groundtruth.npy, info.json");
  fmnist_cmd->add_option("--out", fmnist.out_dir, "Output folder")->required();
  fmnist_cmd
      ->add_option("--source-dir", fmnist.dataset.source_dir,
                   "Folder with train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz")
      ->capture_default_str();
  fmnist_cmd
      ->add_option("--queries", fmnist.dataset.queries, "Keep the first N test images as queries")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  fmnist_cmd->add_option("--gt-k", fmnist.dataset.gt_k, "Ground-truth neighbours per query")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  fmnist_cmd->add_option("--threads", fmnist.threads, "Compute threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  int exit_code = 0;
  fmnist_cmd->callback([&] { exit_code = adanns::bench::RunPrepareFashionMnist(fmnist); });
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
