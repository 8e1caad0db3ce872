// Seeded generators of hostile request values for the malformed-input corpus
// (malformed_corpus_test.cc): invalid and unknown names, non-finite floats, budgets no search of
// the corpus's collection "c" can run with. A generator whose values fail in different ways says,
// with each value, the one status a request carrying it (and nothing else wrong) must get.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "adanns/v1/adanns.pb.h"
#include "grpcpp/support/status.h"

namespace adanns::testing::hostile {

// The dim of the corpus's collection "c", and the k of its valid searches.
inline constexpr uint32_t kCollectionDim = 16;
inline constexpr uint32_t kSearchK = 10;

using Rng = std::mt19937_64;

inline uint32_t Uniform(Rng& rng, uint32_t lo, uint32_t hi) {
  return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
}

inline float NonFinite(Rng& rng) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float values[] = {std::nanf(""), kInf, -kInf, -std::nanf("")};
  return values[Uniform(rng, 0, 3)];
}

// Names no collection can have: empty, too long, unicode, path-like, control characters.
inline std::string InvalidName(Rng& rng) {
  static const char* const kOdd[] = {"",
                                     "a/b",
                                     "../c",
                                     "c/",
                                     "/c",
                                     "colecci\xC3\xB3n",
                                     "\xE5\x90\x8D\xE5\x89\x8D",
                                     "c\xF0\x9F\x98\x80",
                                     " c",
                                     "c ",
                                     "c\n",
                                     ".c",
                                     "_c",
                                     "-c",
                                     "c*",
                                     "c%00",
                                     "c\\d",
                                     "\t",
                                     "c;DROP",
                                     "c:1"};
  switch (Uniform(rng, 0, 9)) {
    case 0:
      return std::string(Uniform(rng, 129, 10000), 'a');  // too long
    case 1:
      return std::string("c\0d", 3);
    default:
      return kOdd[Uniform(rng, 0, std::size(kOdd) - 1)];
  }
}

// Valid names of collections that do not exist.
inline std::string UnknownName(Rng& rng) {
  return "nope" + std::to_string(Uniform(rng, 0, 1u << 30));
}

// A collection name and what a request naming it gets: INVALID_ARGUMENT for an invalid name,
// NOT_FOUND for a valid one that names nothing.
struct HostileName {
  std::string name;
  grpc::StatusCode code;
};

inline HostileName BadOrUnknownName(Rng& rng) {
  if (Uniform(rng, 0, 1)) return {InvalidName(rng), grpc::StatusCode::INVALID_ARGUMENT};
  return {UnknownName(rng), grpc::StatusCode::NOT_FOUND};
}

inline std::vector<float> Floats(Rng& rng, size_t count) {
  std::vector<float> values(count);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (float& x : values) x = uniform(rng);
  return values;
}

// A budget no search of "c" (dim 16, flat only, uncalibrated) can run with, and its status.
struct HostileBudget {
  v1::Budget budget;
  grpc::StatusCode code;
};

inline HostileBudget BadBudget(Rng& rng) {
  using Code = grpc::StatusCode;
  v1::Budget budget;
  v1::Plan* plan = budget.mutable_plan();
  Code code = Code::INVALID_ARGUMENT;  // a malformed value; the cases below say when it is not
  switch (Uniform(rng, 0, 17)) {
    case 0:
      budget.set_target_recall(-static_cast<float>(Uniform(rng, 0, 100)) / 10);
      break;
    case 1:
      budget.set_target_recall(std::nanf(""));
      break;
    case 2:
      budget.set_target_recall(1.0f + static_cast<float>(Uniform(rng, 1, 100)) / 10);
      break;
    case 3:
      budget.set_target_recall(0.5f);
      code = Code::FAILED_PRECONDITION;  // well-formed, but nothing is calibrated
      break;
    case 4:
      budget.set_max_mflops(-static_cast<double>(Uniform(rng, 0, 1000)));
      break;
    case 5:
      budget.set_max_mflops(std::nan(""));
      break;
    case 6:
      budget.set_max_mflops(1e-12);
      code = Code::OUT_OF_RANGE;  // well-formed, but below any plan's cost
      break;
    case 7:
      budget.set_max_mflops(-std::numeric_limits<double>::infinity());
      break;
    case 8:
      plan->set_search_dims(Uniform(rng, kCollectionDim + 1, UINT32_MAX));
      break;
    case 9:
      plan->set_search_dims(Uniform(rng, 2, kCollectionDim));
      plan->set_rerank_dims(Uniform(rng, 1, plan->search_dims() - 1));
      break;
    case 10:
      plan->set_rerank_candidates(Uniform(rng, 0, kSearchK - 1));
      break;
    case 11:
      plan->set_nprobe(Uniform(rng, 1, UINT32_MAX));
      break;
    case 12:
      plan->set_index(Uniform(rng, 0, 1) ? "ivf" : "hnsw");
      code = Code::NOT_FOUND;  // a known kind, not built
      break;
    case 13:
      plan->set_index(Uniform(rng, 0, 1) ? "diskann" : "IVF\xE2\x80\x8B");
      code = Code::NOT_FOUND;  // no index of that name exists (as for a valid unknown name)
      break;
    case 14:
      plan->set_index(Uniform(rng, 0, 1) ? "opq" : "ivf_opq");
      plan->set_codebook("opq" + std::to_string(Uniform(rng, 1, 999)) + "x8");
      code = Code::NOT_FOUND;  // a well-formed codebook name, not built
      break;
    case 15:
      plan->set_coarse_dims(Uniform(rng, 1, UINT32_MAX));
      break;
    case 16:
      budget.set_max_dims(Uniform(rng, 0, 1) ? 0 : Uniform(rng, kCollectionDim + 1, UINT32_MAX));
      break;
    default:  // a plan reading more dims than the budget allows
      budget.set_max_dims(Uniform(rng, 1, kCollectionDim - 1));
      plan->set_search_dims(kCollectionDim);
      break;
  }
  return {budget, code};
}

}  // namespace adanns::testing::hostile
