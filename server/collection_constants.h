// A collection's tuning constants: stored names, the write path's hold sizes and thread
// priorities, the fresh-row funnel and the calibration's sample and recheck rates.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace adanns::server {

// Names of the stored calibration among the collection's index blobs (derived state), and of
// the default budget among its settings (replicated; storage/rocks_store.h).
inline constexpr char kCalibrationBlob[] = "calibration";
inline constexpr char kDefaultBudgetSetting[] = "default_budget";
inline constexpr char kDriftReferenceBlob[] = "calibration_drift";
// The int8 resident prefix's learned parameters (derived from the data, like the calibration).
inline constexpr char kResidentInt8Blob[] = "resident_int8";
// The fresh rows a search scores at its final dims at most, when its plan is a funnel (a scan
// prefix shorter than the re-rank's) or those dims are read from storage: the best of them on the
// scan prefix, max(kFreshShortlistPerK * k, kFreshShortlistMin, the plan's re-rank depth).
inline constexpr size_t kFreshShortlistPerK = 10;
inline constexpr size_t kFreshShortlistMin = 100;
// Of those, on a fp32 L2 table, only rows whose scan-prefix distance is at most the index's k-th
// final distance (times 1 + this slack for rounding): a squared L2 distance only grows with the
// dims, so the others cannot enter the top k.
inline constexpr float kFreshPrefixBoundSlack = 1e-5f;
// The adaptive calibration sample's limit, as a multiple of the queries every plan runs on.
inline constexpr uint32_t kAdaptiveQueriesFactor = 4;
// Searches between two growth-and-drift checks.
inline constexpr uint64_t kRecalibrationCheckEvery = 1024;

// A rebuild is advised once the collection grew by more than this fraction since the build.
inline constexpr double kRebuildAdvisedGrowth = 0.2;

// Writes never hold the table against searches for long: each exclusive hold applies at most this
// many rows to the table (a copy, the GPU mirror's upload, a delete, a build's replayed write) ...
inline constexpr size_t kTableRowsPerHold = 256;
// ... and the absorber finishes at most this many rows' index inserts per hold. The costly part
// of an insert runs before, under a shared hold (a graph's beam search at ef_construction, an
// IVF's centroid ranking, a codebook's encode); the hold only links the node (the neighbour
// heuristic on at most 2M lists), moves the row into its list or stores its code.
inline constexpr size_t kIndexRowsPerHold = 4;

// Nice values of the threads that maintain the collection behind its writes: the absorber (index
// inserts) at the lowest priority, and the applier (with the server's upsert workers) below the
// searches. Searches then keep their latency under a write stream; the write rate is what the
// searches leave (acknowledgements slow down, as the fresh-row cap already makes them).
inline constexpr int kAbsorberNice = 19;
inline constexpr int kWriterNice = 10;
// A recalibration the searches trigger (growth, drift) is the least urgent work there is: it runs
// at the absorber's nice value, in the idle class while searches keep coming (kSearchesActiveMs).
// Under the mixed load at nice 10 it took a quarter of both cores from the searches.
inline constexpr int kAutoCalibrationNice = kAbsorberNice;
// While searches keep coming, an automatic calibration's steps also keep to this share of one
// core (DutyCycle): its exact truth scans and plan measurements stream the table through the
// caches and memory bandwidth the searches share, which the idle class does not shield. Under
// the mixed load, unpaced in the idle class, it raised the searches' p99 under writes by half and
// cut the write rate by more than half, against a build that never recalibrates
// (bench/results/write-path-mixed-calibration-paced.txt). A calibration of ~100 s of CPU then
// takes ~17 minutes under constant load: it is the least urgent work there is, and the frontier
// in use serves meanwhile.
inline constexpr double kAutoCalibrationCoreShare = 0.1;
// Searches count as coming while the last one finished at most this long ago (closed-loop clients
// leave gaps of a round trip between theirs; a quiet collection calibrates in the normal class).
inline constexpr int64_t kSearchesActiveMs = 100;
// A writer waits this long for an idle-class background hold (the absorber's prepare, an automatic
// calibration's step of a few ms) before it lifts the holder out of the idle class. Lifted at once,
// the calibration ran the rest of each step in the normal class, where the scheduler protects a
// running thread's slice even at nice 19: runnable searches waited behind it 290 ms in 6 s.
inline constexpr std::chrono::microseconds kIdleHolderPatience{10'000};

// Committed upserts the applier has not taken into the table yet, at most: a writer that commits
// further waits, so a fast stream cannot queue unbounded memory ahead of the table.
inline constexpr size_t kMaxPendingApplies = 2;

// The online recall check scans its exact truth this many rows per shared hold (a multiple of the
// scorer's block; about 0.3 ms at 784 dims): it runs at the lowest priority, and a waiting writer,
// with every search queued behind it, waits for the check's hold to end, preemptions included.
inline constexpr size_t kExactRowsPerHold = 2048;

}  // namespace adanns::server
