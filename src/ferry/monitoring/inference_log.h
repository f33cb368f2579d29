#ifndef FERRY_MONITORING_INFERENCE_LOG_H_
#define FERRY_MONITORING_INFERENCE_LOG_H_

// The monitoring hook of the inference path: the server pushes one record per
// finished request, and consumers (payload logging, drift windows, the
// performance tracker) receive them in batches on one background thread.
//
// The request path must never wait for monitoring: TryPush() is lock-free
// (a bounded multi-producer ring, Vyukov's design, single consumer) and drops
// the record when the ring is full, counting the drop. A slow subscriber
// therefore costs records, never latency.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/serving/tensor.h"

namespace ferry::monitoring {

struct InferenceRecord {
  std::string id;       // request id
  std::string model;    // served model name
  std::string version;  // version that answered
  std::vector<serving::Tensor> inputs;
  std::vector<serving::Tensor> outputs;  // empty when !ok
  int64_t latency_us = 0;                // queueing + execution
  int64_t timestamp_ms = 0;              // Clock::NowMillis() when the request arrived
  std::string route;                     // "primary", "canary" or "shadow"
  bool ok = false;                       // the request succeeded
};

struct InferenceLogOptions {
  // Records the ring holds before TryPush() drops. Must be >= 1. Default
  // 10000.
  size_t capacity = 10000;
  // Most records handed to subscribers in one call. Must be >= 1. Default
  // 512.
  size_t max_batch = 512;
};

// Thread safety: every method may be called from any thread, except that
// Stop() and the destructor must not be called from a subscriber.
class InferenceLog {
 public:
  // Called on the background thread with records in push order (for pushes
  // ordered by happens-before, e.g. from one thread). Must not throw and
  // should be quick: while it runs, the ring fills and pushes drop.
  using Subscriber = std::function<void(const std::vector<InferenceRecord>& batch)>;

  // Starts the background thread. InvalidArgument when capacity or max_batch
  // is 0.
  static absl::StatusOr<std::unique_ptr<InferenceLog>> Create(const InferenceLogOptions& options);

  InferenceLog(const InferenceLog&) = delete;
  InferenceLog& operator=(const InferenceLog&) = delete;
  // Stop().
  ~InferenceLog();

  // Moves `record` into the ring and returns true; never blocks. Returns
  // false and counts a drop when the ring is full or Stop() has begun;
  // `record` is then left untouched.
  bool TryPush(InferenceRecord&& record);

  // Adds a subscriber. It receives the batches delivered after it was added
  // (subscribe before traffic starts to see every record). Every subscriber
  // sees every batch, in registration order.
  void Subscribe(Subscriber subscriber);

  // Records rejected by TryPush() so far.
  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Records whose batch has been handed to every subscriber (counted also
  // when there are no subscribers).
  int64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }

  // Stops accepting records, delivers every record accepted before, then
  // joins the background thread. Idempotent; concurrent callers all return
  // after the thread is joined. Afterwards every TryPush() drops, and
  // pushed - dropped == delivered.
  void Stop();

 private:
  struct Cell {
    std::atomic<uint64_t> sequence;
    InferenceRecord record;
  };

  explicit InferenceLog(const InferenceLogOptions& options);
  // Single consumer: moves up to max_batch ready records into `batch`.
  void PopBatch(std::vector<InferenceRecord>& batch);
  void Deliver(const std::vector<InferenceRecord>& batch);
  void Run();

  const InferenceLogOptions options_;
  const std::unique_ptr<Cell[]> cells_;  // capacity cells
  alignas(64) std::atomic<uint64_t> enqueue_pos_{0};
  alignas(64) uint64_t dequeue_pos_ = 0;  // consumer thread only

  // Bumped after every push and on Stop(); the consumer waits on it when
  // the ring is empty.
  std::atomic<uint32_t> wakeups_{0};  // 32 bits: a native futex word
  // The consumer is (about to be) waiting on wakeups_; the first producer
  // to clear it wakes the consumer.
  std::atomic<bool> idle_{false};
  // How long the consumer waits after a non-empty drain, so that under load
  // it wakes at most ~1000 times a second instead of once per record.
  static constexpr std::chrono::milliseconds kLinger{1};
  // Producers between their check of stopping_ and publishing their record;
  // the consumer waits for 0 before its final drain so no accepted record is
  // stranded.
  std::atomic<int64_t> active_producers_{0};
  std::atomic<bool> stopping_{false};

  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> delivered_{0};

  std::mutex subscribers_mu_;
  std::vector<std::shared_ptr<const Subscriber>> subscribers_;  // guarded by subscribers_mu_

  std::mutex stop_mu_;  // serialises Stop()
  std::thread thread_;  // joined under stop_mu_
};

}  // namespace ferry::monitoring

#endif  // FERRY_MONITORING_INFERENCE_LOG_H_
