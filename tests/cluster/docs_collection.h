// The small synthetic collection "docs" the router tests share: 8-dim rows from a seeded normal
// generator, upsert messages of id ranges, an exact search, and its creation.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "adanns/v1/adanns.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace adanns::testing {

inline constexpr uint32_t kDim = 8;
inline constexpr uint64_t kVectors = 300;

inline std::vector<float> Row(uint64_t id) {
  std::mt19937 random(static_cast<uint32_t>(id) * 7919u + 1u);
  std::normal_distribution<float> normal;
  std::vector<float> row(kDim);
  for (float& value : row) value = normal(random);
  return row;
}

inline v1::UpsertRequest Message(uint64_t begin, uint64_t end) {
  v1::UpsertRequest message;
  message.set_collection("docs");
  for (uint64_t id = begin; id < end; ++id) {
    v1::Vector* vector = message.add_vectors();
    vector->set_id(id);
    const std::vector<float> row = Row(id);
    vector->mutable_values()->Add(row.begin(), row.end());
  }
  return message;
}

// An exact top-10 search of "docs" for query `query_id` (a row no stored id has).
inline v1::SearchRequest ExactSearchRequest(uint64_t query_id) {
  v1::SearchRequest request;
  request.set_collection("docs");
  request.set_k(10);
  const std::vector<float> query = Row(query_id + 100000);
  request.mutable_query()->Add(query.begin(), query.end());
  request.mutable_budget()->mutable_plan()->set_index("flat");
  return request;
}

inline v1::SearchResponse ExactSearch(v1::Adanns::Stub& stub, uint64_t query_id, bool allow_partial,
                                      grpc::Status* status) {
  v1::SearchRequest request = ExactSearchRequest(query_id);
  request.set_allow_partial(allow_partial);
  grpc::ClientContext context;
  v1::SearchResponse response;
  *status = stub.Search(&context, request, &response);
  return response;
}

// Creates the collection "docs" (kDim, L2) with `shards` shards; its info in *info.
inline grpc::Status CreateDocs(v1::Adanns::Stub& stub, uint32_t shards, v1::CollectionInfo* info) {
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dim(kDim);
  create.set_metric(v1::L2);
  create.set_shards(shards);
  grpc::ClientContext context;
  return stub.CreateCollection(&context, create, info);
}

}  // namespace adanns::testing
