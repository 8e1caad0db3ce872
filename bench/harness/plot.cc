#include "bench/harness/plot.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "bench/harness/frontier.h"
#include "bench/harness/shell_command.h"

namespace adanns::bench {
namespace {

// A gnuplot single-quoted string: only the quote itself needs escaping, by doubling.
std::string GnuplotQuote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string DataBlock(const std::vector<RecallQps>& points) {
  std::string block;
  for (const RecallQps& point : points) {
    if (std::isfinite(point.recall) && std::isfinite(point.qps) && point.qps > 0) {
      absl::StrAppendFormat(&block, "%.6f %.6g\n", point.recall, point.qps);
    }
  }
  // gnuplot cannot plot an empty block; a lone NaN row keeps the block (and its index) present.
  return block.empty() ? "NaN NaN\n" : block;
}

// Labelled 1-2-5 QPS tics from 0.01 to 1e8: a tight log range often holds no power of ten.
std::string YTics() {
  std::vector<std::string> tics;
  for (double decade = 0.01; decade <= 1e8; decade *= 10) {
    for (const double step : {1.0, 2.0, 5.0}) tics.push_back(absl::StrFormat("%g", decade * step));
  }
  return absl::StrJoin(tics, ", ");
}

// A fresh folder under the system temp dir; removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "adanns-plot-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::string PlotScript(const RunMeta& meta, const std::vector<std::string>& methods,
                       const std::string& data_dir, const std::string& terminal,
                       const std::string& png_path) {
  const std::string title = absl::StrFormat(
      "%s (n=%u, dim=%u, %s): recall@%u vs QPS, %d thread(s), batch %u", meta.dataset, meta.n,
      meta.dim, meta.metric, meta.k, meta.threads, meta.batch);
  const std::string subtitle = absl::StrFormat("%s, commit %s", meta.cpu, meta.commit);
  // The title's line break is gnuplot's "\n", joined by string concatenation to the quoted parts.
  std::string script = absl::StrCat(
      "set terminal ", terminal, " noenhanced size 1200,800\n", "set output ",
      GnuplotQuote(png_path), "\n", "set title ", GnuplotQuote(title), ".\"\\n\".",
      GnuplotQuote(subtitle), "\n", "set xlabel ", GnuplotQuote(absl::StrCat("recall@", meta.k)),
      "\n", "set ylabel 'queries per second (log scale)'\n",
      "set logscale y\nset grid\nset key outside right top\nset xrange [*:1.002]\n",
      // The y range hugs the data (no rounding out to decades) with room for points on its edges.
      "set autoscale yfix\nset offsets 0, 0, graph 0.05, graph 0.05\n", "set ytics (", YTics(),
      ")\n");
  // gnuplot's default line types repeat after 8 colours; these 12 stay distinct.
  static constexpr const char* kPalette[] = {"#9400d3", "#009e73", "#56b4e9", "#e69f00",
                                             "#f0e442", "#0072b2", "#e51e10", "#000000",
                                             "#ff1493", "#8b4513", "#808080", "#00ced1"};
  std::vector<std::string> plots;
  for (size_t i = 0; i < methods.size(); ++i) {
    const std::string file = GnuplotQuote(absl::StrCat(data_dir, "/", i, ".dat"));
    const char* color = kPalette[i % std::size(kPalette)];
    plots.push_back(
        absl::StrFormat("%s index 0 using 1:2 with linespoints lw 2 pt 7 lc rgb '%s' title %s",
                        file, color, GnuplotQuote(methods[i])));
    plots.push_back(absl::StrFormat(
        "%s index 1 using 1:2 with points pt 6 ps 0.6 lc rgb '%s' notitle", file, color));
  }
  absl::StrAppend(&script, "plot ", absl::StrJoin(plots, ", \\\n     "), "\n");
  return script;
}

absl::Status WritePlot(const RunMeta& meta, const std::vector<PointResult>& points,
                       const std::string& png_path) {
  if (RunShellCommand("command -v gnuplot >/dev/null 2>&1").exit_status != 0) {
    return absl::FailedPreconditionError(
        "gnuplot is not on PATH, so no plot was drawn (Debian: apt-get install gnuplot-nox)");
  }
  ScratchDir scratch;
  if (scratch.path().empty()) return absl::InternalError("cannot create a temporary folder");
  const std::vector<std::string> methods = MethodOrder(points);
  std::map<std::string, std::vector<RecallQps>> measured;
  for (const PointResult& point : points)
    measured[point.method].push_back({point.recall, point.qps});
  for (size_t i = 0; i < methods.size(); ++i) {
    const std::vector<RecallQps>& all = measured[methods[i]];
    RETURN_IF_ERROR(
        WriteTextFile(absl::StrCat(scratch.path(), "/", i, ".dat"),
                      absl::StrCat(DataBlock(ParetoFrontier(all)), "\n\n", DataBlock(all))));
  }
  // pngcairo draws smoother lines; plain png (libgd) is the fallback gnuplot always has.
  const CommandOutput terminals = RunShellCommand("gnuplot -e 'set terminal' 2>&1");
  const std::string terminal =
      terminals.output.find("pngcairo") != std::string::npos ? "pngcairo" : "png";
  const std::string script_path = absl::StrCat(scratch.path(), "/plot.gp");
  RETURN_IF_ERROR(
      WriteTextFile(script_path, PlotScript(meta, methods, scratch.path(), terminal, png_path)));
  std::error_code error;
  std::filesystem::remove(png_path, error);  // so a stale plot never passes for a new one
  const CommandOutput run =
      RunShellCommand(absl::StrCat("gnuplot ", ShellQuote(script_path), " 2>&1"));
  if (run.exit_status != 0 || std::filesystem::file_size(png_path, error) == 0 || error) {
    return absl::InternalError(absl::StrCat("gnuplot failed to draw ", png_path, ": ", run.output));
  }
  return absl::OkStatus();
}

}  // namespace adanns::bench
