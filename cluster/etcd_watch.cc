#include "cluster/etcd_watch.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace adanns::cluster {
namespace {

// Pause between attempts after a failure: doubling from 100 ms up to 2 s (etcd restarting or
// electing a leader takes about a second; a 5-s lease must not be outlived by our back-off).
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);

}  // namespace

EtcdPrefixWatch::EtcdPrefixWatch(EtcdClient* client, std::string prefix, OnChange on_change)
    : client_(client), prefix_(std::move(prefix)), on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { Run(); });
}

EtcdPrefixWatch::~EtcdPrefixWatch() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    if (stream_context_ != nullptr) stream_context_->TryCancel();
  }
  thread_.join();
}

absl::Status EtcdPrefixWatch::AwaitSynced(absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  if (mutex_.AwaitWithTimeout(absl::Condition(&synced_), timeout)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("etcd watch of ", prefix_, ": not listed within ",
                                             absl::FormatDuration(timeout), " (",
                                             last_error_.message(), ")"));
}

absl::Status EtcdPrefixWatch::AwaitRevision(int64_t revision, absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  auto reached = [this, revision]() ABSL_SHARED_LOCKS_REQUIRED(mutex_) {
    return synced_ && revision_ >= revision;
  };
  if (mutex_.AwaitWithTimeout(absl::Condition(&reached), timeout)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("etcd watch of ", prefix_, ": revision ", revision,
                                             " not seen within ", absl::FormatDuration(timeout)));
}

EtcdPrefixWatch::Snapshot EtcdPrefixWatch::Current() const {
  absl::MutexLock lock(&mutex_);
  return snapshot_;
}

std::optional<EtcdKeyValue> EtcdPrefixWatch::Find(absl::string_view key) const {
  absl::MutexLock lock(&mutex_);
  const auto found = snapshot_.find(key);
  if (found == snapshot_.end()) return std::nullopt;
  return found->second;
}

void EtcdPrefixWatch::Publish(int64_t revision) {
  revision_ = std::max(revision_, revision);
  synced_ = true;
  if (on_change_) on_change_(snapshot_);
}

void EtcdPrefixWatch::Run() {
  absl::Duration backoff = kFirstBackoff;
  while (true) {
    absl::Status status = ListAndFollow();
    absl::MutexLock lock(&mutex_);
    if (stopping_) return;
    if (status.ok()) {
      backoff = kFirstBackoff;  // the stream ended cleanly (compaction, cancel): list again now
      continue;
    }
    last_error_ = status;
    mutex_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

absl::Status EtcdPrefixWatch::ListAndFollow() {
  absl::StatusOr<EtcdRange> listed = client_->GetPrefix(prefix_);
  if (!listed.ok()) return listed.status();
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mutex_);
    if (stopping_) return absl::OkStatus();
    snapshot_.clear();
    for (EtcdKeyValue& kv : listed->kvs) snapshot_.emplace(kv.key, std::move(kv));
    Publish(listed->revision);
    stream_context_ = &context;
  }
  auto stream = client_->WatchStub()->Watch(&context);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
  create->set_key(prefix_);
  create->set_range_end(EtcdPrefixRangeEnd(prefix_));
  create->set_start_revision(listed->revision + 1);
  absl::Status ended = absl::OkStatus();
  if (stream->Write(request)) {
    etcdserverpb::WatchResponse response;
    while (stream->Read(&response)) {
      if (response.canceled() || response.compact_revision() > 0) break;  // list again
      if (response.events_size() == 0) continue;
      absl::MutexLock lock(&mutex_);
      for (const mvccpb::Event& event : response.events()) {
        if (event.type() == mvccpb::Event::DELETE) {
          snapshot_.erase(event.kv().key());
        } else {
          snapshot_[event.kv().key()] = EtcdKeyValueFromProto(event.kv());
        }
      }
      Publish(response.header().revision());
    }
  }
  context.TryCancel();
  grpc::Status finished = stream->Finish();
  {
    absl::MutexLock lock(&mutex_);
    stream_context_ = nullptr;
    if (stopping_) return absl::OkStatus();
  }
  if (!finished.ok() && finished.error_code() != grpc::StatusCode::CANCELLED) {
    ended = absl::UnavailableError(
        absl::StrCat("etcd watch of ", prefix_, ": ", finished.error_message()));
  }
  return ended;
}

}  // namespace adanns::cluster
