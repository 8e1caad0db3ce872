// The main of a fuzz target in the normal build: runs LLVMFuzzerTestOneInput on every file of
// the given corpus directories (or files), then on deterministic mutations of them (bit flips,
// byte overwrites, truncations, erased and repeated ranges), so the quick suite keeps the corpus
// and every crasher found so far fixed without libFuzzer.
//   <target> [--mutations=N (in all, shared by the files)] [--seed=S] CORPUS_DIR_OR_FILE...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

void RunOne(const std::string& bytes) {
  // A copy in its own allocation, as libFuzzer does, so reads past the end are not hidden.
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(copy.data(), copy.size());
}

std::string Mutate(std::string bytes, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  if (bytes.empty()) return std::string(1 + pick(16), static_cast<char>(rng()));
  switch (pick(5)) {
    case 0:
      bytes[pick(bytes.size())] ^= static_cast<char>(1u << pick(8));
      break;
    case 1:
      for (size_t i = 0, n = 1 + pick(4); i < n; ++i) bytes[pick(bytes.size())] = char(rng());
      break;
    case 2:
      bytes.resize(pick(bytes.size()));
      break;
    case 3: {
      const size_t at = pick(bytes.size());
      bytes.erase(at, 1 + pick(std::min<size_t>(64, bytes.size() - at)));
      break;
    }
    default: {
      const size_t at = pick(bytes.size());
      bytes.insert(at, bytes.substr(at, 1 + pick(32)));
      break;
    }
  }
  return bytes;
}

std::vector<fs::path> Inputs(const std::vector<std::string>& args) {
  std::vector<fs::path> files;
  for (const std::string& arg : args) {
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.emplace_back(arg);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  size_t mutations = 1000;
  uint64_t seed = 1;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--mutations=", 12) == 0) {
      mutations = std::stoul(argv[i] + 12);
    } else if (std::strncmp(argv[i], "--seed=", 7) == 0) {
      seed = std::stoull(argv[i] + 7);
    } else {
      args.emplace_back(argv[i]);
    }
  }
  const std::vector<fs::path> files = Inputs(args);
  if (files.empty()) {
    std::fprintf(stderr, "no corpus files in the given paths\n");
    return 1;
  }
  const size_t per_file = std::max<size_t>(1, mutations / files.size());
  size_t runs = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    std::ifstream in(files[f], std::ios::binary);
    const std::string original((std::istreambuf_iterator<char>(in)), {});
    RunOne(original);
    ++runs;
    std::mt19937_64 rng(seed * 1000003 + f);
    std::string current = original;
    for (size_t m = 0; m < per_file; ++m) {
      // Mostly single mutations of the seed; sometimes stack them for deeper changes.
      current = Mutate(m % 4 == 3 ? current : original, rng);
      RunOne(current);
      ++runs;
    }
  }
  std::printf("replayed %zu inputs: %zu corpus files and %zu mutations of each\n", runs,
              files.size(), per_file);
  return 0;
}
