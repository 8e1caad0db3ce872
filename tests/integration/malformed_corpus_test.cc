// A seeded corpus of over a thousand malformed or hostile requests against a real server on
// loopback: each generator states the one status its case must get (and the case must get it,
// with a message; never INTERNAL or a crash), while valid searches interleaved with the corpus
// keep returning the exact answer and no rejected write lands.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/integration/hostile_values.h"
#include "tests/integration/in_process_server.h"

namespace adanns::testing {
namespace {

using Code = grpc::StatusCode;
using hostile::BadBudget;
using hostile::BadOrUnknownName;
using hostile::Floats;
using hostile::InvalidName;
using hostile::NonFinite;
using hostile::Rng;
using hostile::Uniform;
using hostile::UnknownName;

constexpr uint32_t kDim = hostile::kCollectionDim;
constexpr size_t kVectors = 200;
constexpr uint32_t kTopK = hostile::kSearchK;
constexpr size_t kProbeQueries = 4;
// A valid search runs after every this many corpus requests.
constexpr size_t kProbeEvery = 20;
constexpr uint64_t kSeed = 20240611;

std::string CodeName(Code code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));  // the same numbering
}

// One hostile request: its family (for the summary), how to send it, and the status it must get.
struct Case {
  std::string family;
  std::function<grpc::Status()> send;
  Code expected;
};

constexpr Code kInvalid = Code::INVALID_ARGUMENT;

class MalformedCorpusTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    ASSERT_EQ(Create("c", kDim, v1::L2), Code::OK);
    ASSERT_EQ(Create("e", 4, v1::COSINE), Code::OK);  // stays empty
    std::mt19937_64 rng(kSeed);
    std::normal_distribution<float> normal;
    v1::UpsertRequest message;
    message.set_collection("c");
    for (size_t i = 0; i < kVectors; ++i) {
      v1::Vector* v = message.add_vectors();
      v->set_id(i * 7 + 3);
      for (uint32_t j = 0; j < kDim; ++j) v->add_values(normal(rng));
    }
    v1::UpsertResponse upserted;
    ASSERT_TRUE(UpsertMessage(message, &upserted).ok());
    stored_ = message;
    for (size_t q = 0; q < kProbeQueries; ++q) {
      std::vector<float> query(kDim);
      for (float& x : query) x = normal(rng);
      probes_.push_back(query);
    }
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  }

  // Ids of the exact top-k by squared L2, computed here from the stored vectors.
  std::vector<uint64_t> ExactTopK(const std::vector<float>& query) const {
    std::vector<std::pair<double, uint64_t>> scored;
    for (const v1::Vector& v : stored_.vectors()) {
      double distance = 0;
      for (uint32_t j = 0; j < kDim; ++j) {
        const double d = static_cast<double>(v.values(j)) - query[j];
        distance += d * d;
      }
      scored.emplace_back(distance, v.id());
    }
    std::sort(scored.begin(), scored.end());
    std::vector<uint64_t> ids;
    for (uint32_t i = 0; i < kTopK; ++i) ids.push_back(scored[i].second);
    return ids;
  }

  v1::SearchResponse ProbeSearch(size_t probe) {
    v1::SearchRequest request;
    request.set_collection("c");
    request.set_k(kTopK);
    for (float x : probes_[probe]) request.add_query(x);
    v1::SearchResponse response;
    auto context = Context();
    const grpc::Status status = stub_->Search(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static std::vector<std::pair<uint64_t, float>> Hits(const v1::SearchResponse& response) {
    std::vector<std::pair<uint64_t, float>> hits;
    for (const v1::Hit& hit : response.hits()) hits.emplace_back(hit.id(), hit.score());
    return hits;
  }

  grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    grpc::GenericStub generic(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                                  grpc::InsecureChannelCredentials()));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    auto context = Context();
    std::promise<grpc::Status> done;
    generic.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  }

  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (v1::Adanns::Stub::*)(grpc::ClientContext*, const Request&,
                                                         Response*);

  // A case that sends `request` through the typed stub method.
  template <typename Request, typename Response>
  Case Unary(std::string family, UnaryMethod<Request, Response> method, Request request,
             Code expected) {
    return {std::move(family),
            [this, method, request] {
              Response response;
              auto context = Context();
              return (stub_.get()->*method)(context.get(), request, &response);
            },
            expected};
  }

  Case UpsertCase(std::vector<v1::UpsertRequest> messages, Code expected) {
    return {"Upsert",
            [this, messages] {
              v1::UpsertResponse response;
              auto context = Context();
              auto writer = stub_->Upsert(context.get(), &response);
              for (const auto& m : messages) {
                if (!writer->Write(m)) break;
              }
              writer->WritesDone();
              return writer->Finish();
            },
            expected};
  }

  std::vector<Case> MakeCorpus();

  v1::UpsertRequest stored_;
  std::vector<std::vector<float>> probes_;
};

std::vector<Case> MalformedCorpusTest::MakeCorpus() {
  Rng rng(kSeed);
  std::vector<Case> corpus;
  using Stub = v1::Adanns::Stub;

  auto search = [&](Code expected, auto mutate) {
    v1::SearchRequest request;
    request.set_collection("c");
    request.set_k(kTopK);
    for (float x : Floats(rng, kDim)) request.add_query(x);
    mutate(request);
    corpus.push_back(Unary("Search", &Stub::Search, request, expected));
  };
  for (int i = 0; i < 40; ++i) {
    search(kInvalid, [&](v1::SearchRequest& r) {
      r.clear_query();
      for (float x : Floats(rng, Uniform(rng, kDim + 1, 4 * kDim))) r.add_query(x);
    });
    search(kInvalid, [&](v1::SearchRequest& r) { r.clear_query(); });
    search(kInvalid,
           [&](v1::SearchRequest& r) { r.set_query(Uniform(rng, 0, kDim - 1), NonFinite(rng)); });
    search(kInvalid, [&](v1::SearchRequest& r) { r.set_k(0); });
    search(kInvalid, [&](v1::SearchRequest& r) { r.set_k(Uniform(rng, 10001, UINT32_MAX)); });
    const hostile::HostileName name = BadOrUnknownName(rng);
    search(name.code, [&](v1::SearchRequest& r) { r.set_collection(name.name); });
    for (int b = 0; b < 4; ++b) {
      const hostile::HostileBudget budget = BadBudget(rng);
      search(budget.code, [&](v1::SearchRequest& r) { *r.mutable_budget() = budget.budget; });
    }
  }

  auto batch = [&](Code expected, uint32_t query_dims, size_t floats, uint32_t k, auto mutate) {
    v1::SearchBatchRequest request;
    request.set_collection("c");
    request.set_query_dims(query_dims);
    for (float x : Floats(rng, floats)) request.add_queries(x);
    request.set_k(k);
    mutate(request);
    corpus.push_back(Unary("SearchBatch", &Stub::SearchBatch, request, expected));
  };
  auto keep = [](v1::SearchBatchRequest&) {};
  for (int i = 0; i < 12; ++i) {
    batch(kInvalid, 0, kDim, 1, keep);
    batch(kInvalid, Uniform(rng, kDim + 1, UINT32_MAX), kDim, 1, keep);
    batch(kInvalid, kDim, kDim * Uniform(rng, 1, 8) + Uniform(rng, 1, kDim - 1), 1,
          keep);                                                 // ragged
    batch(kInvalid, kDim, 0, 1, keep);                           // empty batch
    batch(kInvalid, 1, 10001 + Uniform(rng, 0, 5000), 1, keep);  // huge batch
    batch(kInvalid, 2, 2000, Uniform(rng, 1001, 10000), keep);   // n * k too big
    batch(kInvalid, kDim, kDim * 4, Uniform(rng, 0, 1) ? 0 : Uniform(rng, 10001, UINT32_MAX), keep);
    batch(kInvalid, kDim, kDim * 4, kTopK, [&](v1::SearchBatchRequest& r) {
      r.set_queries(Uniform(rng, 0, kDim * 4 - 1), NonFinite(rng));
    });
    const hostile::HostileBudget budget = BadBudget(rng);
    batch(budget.code, kDim, kDim * 2, kTopK,
          [&](v1::SearchBatchRequest& r) { *r.mutable_budget() = budget.budget; });
    const hostile::HostileName name = BadOrUnknownName(rng);
    batch(name.code, kDim, kDim, kTopK,
          [&](v1::SearchBatchRequest& r) { r.set_collection(name.name); });
  }

  // Upserts: each stream's first message is bad, so none of them may write anything.
  auto upsert_message = [&](const std::string& collection, size_t count, uint32_t dim) {
    v1::UpsertRequest message;
    message.set_collection(collection);
    for (size_t i = 0; i < count; ++i) {
      v1::Vector* v = message.add_vectors();
      v->set_id(100000 + Uniform(rng, 0, 1000));
      for (float x : Floats(rng, dim)) v->add_values(x);
    }
    return message;
  };
  for (int i = 0; i < 25; ++i) {
    v1::UpsertRequest wrong_dim = upsert_message("c", Uniform(rng, 1, 20), kDim);
    v1::Vector* victim = wrong_dim.mutable_vectors(Uniform(rng, 0, wrong_dim.vectors_size() - 1));
    if (Uniform(rng, 0, 1)) {
      victim->mutable_values()->RemoveLast();
    } else {
      victim->add_values(1.0f);
    }
    corpus.push_back(UpsertCase({wrong_dim, upsert_message("c", 3, kDim)}, kInvalid));
    v1::UpsertRequest non_finite = upsert_message("c", Uniform(rng, 1, 20), kDim);
    non_finite.mutable_vectors(Uniform(rng, 0, non_finite.vectors_size() - 1))
        ->set_values(Uniform(rng, 0, kDim - 1), NonFinite(rng));
    corpus.push_back(UpsertCase({non_finite}, kInvalid));
    corpus.push_back(UpsertCase({upsert_message("c", 0, kDim)}, kInvalid));
    const hostile::HostileName name = BadOrUnknownName(rng);
    corpus.push_back(UpsertCase({upsert_message(name.name, 2, kDim)}, name.code));
    corpus.push_back(UpsertCase({upsert_message("e", 2, kDim)}, kInvalid));  // e has dim 4
  }
  corpus.push_back(UpsertCase({upsert_message("c", 100001, 0)}, kInvalid));  // too many vectors

  for (int i = 0; i < 30; ++i) {
    v1::CreateCollectionRequest create;
    create.set_name(InvalidName(rng));
    create.set_dim(kDim);
    create.set_metric(v1::L2);
    corpus.push_back(Unary("CreateCollection", &Stub::CreateCollection, create, kInvalid));
    create.set_name(UnknownName(rng));
    switch (i % 5) {
      case 0:
        create.set_dim(Uniform(rng, 0, 1) ? 0 : Uniform(rng, 65537, UINT32_MAX));
        break;
      case 1:
        create.set_metric(static_cast<v1::Metric>(Uniform(rng, 0, 1) ? 0 : 4 + i));
        break;
      case 2:
        create.add_nesting_dims(8), create.add_nesting_dims(Uniform(rng, 1, 8));
        break;
      case 3:
        create.add_nesting_dims(Uniform(rng, kDim + 1, UINT32_MAX));
        break;
      default:
        create.add_nesting_dims(0);
        break;
    }
    corpus.push_back(Unary("CreateCollection", &Stub::CreateCollection, create, kInvalid));
    v1::CreateCollectionRequest duplicate;
    duplicate.set_name(Uniform(rng, 0, 1) ? "c" : "e");
    duplicate.set_dim(Uniform(rng, 1, 1000));
    duplicate.set_metric(v1::COSINE);
    corpus.push_back(
        Unary("CreateCollection", &Stub::CreateCollection, duplicate, Code::ALREADY_EXISTS));
  }

  for (int i = 0; i < 20; ++i) {
    const hostile::HostileName described = BadOrUnknownName(rng);
    v1::DescribeCollectionRequest describe;
    describe.set_name(described.name);
    corpus.push_back(
        Unary("DescribeCollection", &Stub::DescribeCollection, describe, described.code));
    const hostile::HostileName dropped = BadOrUnknownName(rng);
    v1::DropCollectionRequest drop;
    drop.set_name(dropped.name);
    corpus.push_back(Unary("DropCollection", &Stub::DropCollection, drop, dropped.code));
    const hostile::HostileName updated = BadOrUnknownName(rng);  // used when i % 4 == 0
    v1::UpdateCollectionRequest update;
    update.set_name(i % 4 == 0 ? updated.name : "c");
    v1::Budget* budget = update.mutable_default_budget();
    switch (i % 4) {
      case 1:
        budget->set_max_mflops(-1.0 * Uniform(rng, 0, 9));
        break;
      case 2:
        budget->set_target_recall(std::nanf(""));
        break;
      default:
        budget->set_max_dims(Uniform(rng, 0, 1) ? 0 : Uniform(rng, kDim + 1, UINT32_MAX));
    }
    corpus.push_back(Unary("UpdateCollection", &Stub::UpdateCollection, update,
                           i % 4 == 0 ? updated.code : kInvalid));
    const hostile::HostileName got = BadOrUnknownName(rng);  // used when i % 3 == 0
    v1::GetRequest get;
    get.set_collection(i % 3 == 0 ? got.name : "c");
    if (i % 3 == 1) {
      for (int id = 0; id < 100001 + i; ++id) get.add_ids(id);
    } else if (i % 3 == 0) {
      get.add_ids(3);
    }
    corpus.push_back(Unary("Get", &Stub::Get, get, i % 3 == 0 ? got.code : kInvalid));
    const hostile::HostileName deleted = BadOrUnknownName(rng);  // used when i is odd
    v1::DeleteRequest del;  // never names "c" with ids: nothing may be deleted
    del.set_collection(i % 2 ? deleted.name : "c");
    if (i % 2) del.add_ids(3);
    if (i % 4 == 2) {
      for (int id = 0; id < 100001; ++id) del.add_ids(id);
    }
    corpus.push_back(Unary("Delete", &Stub::Delete, del, i % 2 ? deleted.code : kInvalid));
  }

  // Index builds no collection of this shape can take (nothing may start building).
  for (int i = 0; i < 10; ++i) {
    auto build = [&](auto mutate, Code expected = kInvalid) {
      v1::BuildIndexRequest request;
      request.set_collection("c");
      mutate(request);
      corpus.push_back(Unary("BuildIndex", &Stub::BuildIndex, request, expected));
    };
    build([&](auto& r) { r.mutable_ivf()->set_nlist(Uniform(rng, kVectors + 1, 1u << 20)); });
    build([&](auto& r) { r.mutable_ivf()->set_nlist(Uniform(rng, (1u << 20) + 1, UINT32_MAX)); });
    build([&](auto& r) { r.mutable_ivf()->set_coarse_dims(Uniform(rng, kDim + 1, UINT32_MAX)); });
    build([&](auto& r) { r.mutable_ivf()->set_search_dims(Uniform(rng, kDim + 1, UINT32_MAX)); });
    build([&](auto& r) { r.mutable_ivf()->set_kmeans_iterations(Uniform(rng, 1001, UINT32_MAX)); });
    build([&](auto& r) { r.mutable_hnsw()->set_graph_dims(Uniform(rng, kDim + 1, UINT32_MAX)); });
    build([&](auto& r) {
      r.mutable_hnsw()->set_m(Uniform(rng, 0, 1) ? 1 : Uniform(rng, 257, UINT32_MAX));
    });
    build(
        [&](auto& r) { r.mutable_hnsw()->set_ef_construction(Uniform(rng, 100001, UINT32_MAX)); });
    build([&](auto& r) { r.mutable_opq(); });  // no codebooks
    build([&](auto& r) {
      v1::CodebookSpec* spec = r.mutable_opq()->add_codebooks();
      spec->set_m(8 * Uniform(rng, 1, 2));
      spec->set_prefix_dims(spec->m() + Uniform(rng, 1, spec->m() - 1));  // not a multiple of m
    });
    build([&](auto& r) {
      v1::CodebookSpec* spec = r.mutable_opq()->add_codebooks();
      spec->set_m(Uniform(rng, 1, 7));  // not a multiple of 8
      spec->set_prefix_dims(kDim);
    });
    build([&](auto& r) {
      v1::CodebookSpec* spec = r.mutable_opq()->add_codebooks();
      spec->set_m(8);
      spec->set_prefix_dims(8 * Uniform(rng, 3, 1000));  // longer than dim
    });
    build([&](auto& r) {
      r.mutable_opq()->set_opq_iterations(Uniform(rng, 101, UINT32_MAX));
      r.mutable_opq()->add_codebooks()->set_m(8);
    });
    build([&](auto& r) {  // a valid IVF with an invalid codebook: neither starts
      r.mutable_ivf()->set_nlist(4);
      r.mutable_opq()->add_codebooks()->set_prefix_dims(kDim + 8);
    });
    const hostile::HostileName built = BadOrUnknownName(rng);
    build([&](auto& r) { r.set_collection(built.name); }, built.code);
    build([&](auto& r) { r.set_collection("e"); }, Code::FAILED_PRECONDITION);  // empty

    // Droppable names of indexes "c" does not have (NOT_FOUND), and names no index can have.
    const std::vector<std::pair<std::string, Code>> index_names = {
        {"ivf", Code::NOT_FOUND},
        {"hnsw", Code::NOT_FOUND},
        {"opq16x8", Code::NOT_FOUND},
        {"flat", kInvalid},
        {"", kInvalid},
        {"../ivf", kInvalid},
        {"IVF", kInvalid},
        {"opq0x0", kInvalid},
        {std::string(5000, 'i'), kInvalid}};
    const auto& [index_name, index_code] =
        index_names[Uniform(rng, 0, static_cast<uint32_t>(index_names.size() - 1))];
    const hostile::HostileName owner = BadOrUnknownName(rng);  // used when i % 3 == 0
    v1::DropIndexRequest drop;
    drop.set_collection(i % 3 == 0 ? owner.name : "c");
    drop.set_name(index_name);
    corpus.push_back(
        Unary("DropIndex", &Stub::DropIndex, drop, i % 3 == 0 ? owner.code : index_code));

    v1::CalibrateRequest calibrate;
    calibrate.set_collection("c");
    Code calibrate_code = kInvalid;
    switch (i % 5) {
      case 0:
        calibrate.add_ks(Uniform(rng, 0, 1) ? 0 : Uniform(rng, 1001, UINT32_MAX));
        break;
      case 1:  // a valid k, but "c" holds too few vectors for it
        calibrate.add_ks(Uniform(rng, kVectors, 1000));
        calibrate_code = Code::FAILED_PRECONDITION;
        break;
      case 2:
        calibrate.set_queries(Uniform(rng, 10001, UINT32_MAX));
        break;
      case 3:
        for (float x : Floats(rng, kDim * 2 + Uniform(rng, 1, kDim - 1)))
          calibrate.add_query_vectors(x);
        break;
      default:
        if (Uniform(rng, 0, 1)) {
          calibrate.set_collection("e");  // empty
          calibrate_code = Code::FAILED_PRECONDITION;
        } else {
          const hostile::HostileName name = BadOrUnknownName(rng);
          calibrate.set_collection(name.name);
          calibrate_code = name.code;
        }
    }
    corpus.push_back(Unary("Calibrate", &Stub::Calibrate, calibrate, calibrate_code));
    v1::CreateSnapshotRequest snapshot;  // snapshots are disabled on this server
    snapshot.set_name(Uniform(rng, 0, 1) ? InvalidName(rng) : UnknownName(rng));
    corpus.push_back(
        Unary("CreateSnapshot", &Stub::CreateSnapshot, snapshot, Code::FAILED_PRECONDITION));
  }

  // Raw bytes on the wire: garbage, and valid encodings cut inside their last (packed) field. Each
  // is checked not to parse as its method's request (bytes that happen to parse are drawn again),
  // so every one must get INVALID_ARGUMENT.
  const v1::SearchRequest search_type;
  const v1::SearchBatchRequest batch_type;
  const v1::GetRequest get_type;
  const v1::DeleteRequest delete_type;
  const v1::DescribeCollectionRequest describe_type;
  const v1::BuildIndexRequest build_type;
  const v1::CalibrateRequest calibrate_type;
  const v1::CreateCollectionRequest create_type;
  const v1::UpdateCollectionRequest update_type;
  const v1::DropIndexRequest drop_type;
  const std::vector<std::pair<std::string, const google::protobuf::Message*>> methods = {
      {"Search", &search_type},
      {"SearchBatch", &batch_type},
      {"Get", &get_type},
      {"Delete", &delete_type},
      {"DescribeCollection", &describe_type},
      {"BuildIndex", &build_type},
      {"Calibrate", &calibrate_type},
      {"CreateCollection", &create_type},
      {"UpdateCollection", &update_type},
      {"DropIndex", &drop_type}};
  v1::SearchRequest long_search;
  long_search.set_collection("c");
  long_search.set_k(kTopK);
  for (float x : Floats(rng, kDim)) long_search.add_query(x);
  const std::string encoded = long_search.SerializeAsString();
  for (int i = 0; i < 300; ++i) {
    const auto& [name, type] = methods[i % methods.size()];
    const std::string method = "/adanns.v1.Adanns/" + name;
    std::unique_ptr<google::protobuf::Message> parsed(type->New());
    std::string bytes;
    for (int attempt = 0; attempt == 0 || parsed->ParseFromString(bytes); ++attempt) {
      if (i % 10 == 1 && attempt == 0) {
        bytes = std::string("\x0a\x02\xff\xfe\x10\x08\x18\x01", 8);  // name not UTF-8
      } else if (i % 3 == 0 && attempt == 0) {
        // Field 2 (the query) is last; cut after its length prefix, before its end.
        bytes = encoded.substr(0, encoded.size() - Uniform(rng, 1, kDim * 4 - 1));
      } else {
        bytes.resize(Uniform(rng, 2, 64));
        for (char& b : bytes) b = static_cast<char>(Uniform(rng, 0, 255));
        if (i % 3 == 2) bytes[0] = '\x0a', bytes[1] = '\x7f';  // a string overrunning the end
      }
    }
    corpus.push_back(
        {"raw " + name, [this, method, bytes] { return RawCall(method, bytes); }, kInvalid});
  }
  for (const char* unknown : {"/adanns.v1.Adanns/Nope", "/adanns.v2.Adanns/Search", "/x"}) {
    corpus.push_back({"raw unknown method",
                      [this, unknown] { return RawCall(unknown, "\x0a\x01\x63"); },
                      Code::UNIMPLEMENTED});
  }

  std::shuffle(corpus.begin(), corpus.end(), rng);
  return corpus;
}

TEST_F(MalformedCorpusTest, EveryRequestIsRejectedPreciselyAndTheServerStaysCorrect) {
  // The exact answers, from the server before the corpus, checked against a brute-force scan.
  std::vector<std::vector<std::pair<uint64_t, float>>> expected;
  for (size_t q = 0; q < kProbeQueries; ++q) {
    expected.push_back(Hits(ProbeSearch(q)));
    std::vector<uint64_t> ids;
    for (const auto& hit : expected.back()) ids.push_back(hit.first);
    ASSERT_EQ(ids, ExactTopK(probes_[q])) << "probe " << q;
  }

  const std::vector<Case> corpus = MakeCorpus();
  ASSERT_GE(corpus.size(), 1000u);
  std::map<std::string, size_t> per_code;
  std::map<std::string, std::map<std::string, size_t>> per_family;
  size_t probes = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const Case& c = corpus[i];
    const grpc::Status status = c.send();
    ++per_code[CodeName(status.error_code())];
    ++per_family[c.family][CodeName(status.error_code())];
    EXPECT_EQ(status.error_code(), c.expected)
        << "case " << i << " (" << c.family << ") expected " << CodeName(c.expected) << ", got "
        << CodeName(status.error_code()) << ": " << status.error_message();
    if (status.error_code() != Code::UNIMPLEMENTED) {  // gRPC's own answer to unknown methods
      EXPECT_FALSE(status.error_message().empty()) << "case " << i << " (" << c.family << ")";
    }
    if (i % kProbeEvery == kProbeEvery - 1) {
      const size_t q = probes++ % kProbeQueries;
      ASSERT_EQ(Hits(ProbeSearch(q)), expected[q]) << "after case " << i << " (" << c.family << ")";
    }
  }

  std::printf("malformed corpus: %zu requests (seed %llu), %zu interleaved exact searches\n",
              corpus.size(), static_cast<unsigned long long>(kSeed), probes);
  std::printf("  %-22s %6s\n", "status", "count");
  for (const auto& [code, count] : per_code) std::printf("  %-22s %6zu\n", code.c_str(), count);
  std::printf("  %-22s %s\n", "family", "statuses");
  for (const auto& [family, codes] : per_family) {
    std::string line;
    for (const auto& [code, count] : codes) line += code + "=" + std::to_string(count) + " ";
    std::printf("  %-22s %s\n", family.c_str(), line.c_str());
  }

  // Nothing was written, created, built or dropped by the rejected requests.
  v1::ListCollectionsResponse list;
  auto context = Context();
  ASSERT_TRUE(stub_->ListCollections(context.get(), {}, &list).ok());
  ASSERT_EQ(list.collections_size(), 2);
  EXPECT_EQ(list.collections(0).name(), "c");
  EXPECT_EQ(list.collections(0).vector_count(), kVectors);
  EXPECT_EQ(list.collections(0).indexes_size(), 1);  // flat only
  EXPECT_FALSE(list.collections(0).has_default_budget());
  EXPECT_EQ(list.collections(1).name(), "e");
  EXPECT_EQ(list.collections(1).vector_count(), 0u);

  v1::GetRequest get;
  get.set_collection("c");
  for (const v1::Vector& v : stored_.vectors()) get.add_ids(v.id());
  v1::GetResponse got;
  context = Context();
  ASSERT_TRUE(stub_->Get(context.get(), get, &got).ok());
  ASSERT_EQ(got.vectors_size(), static_cast<int>(kVectors));
  for (int i = 0; i < got.vectors_size(); ++i) {
    EXPECT_EQ(got.vectors(i).SerializeAsString(), stored_.vectors(i).SerializeAsString());
  }
  for (size_t q = 0; q < kProbeQueries; ++q) EXPECT_EQ(Hits(ProbeSearch(q)), expected[q]);
}

}  // namespace
}  // namespace adanns::testing
