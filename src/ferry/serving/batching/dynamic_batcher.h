#ifndef FERRY_SERVING_BATCHING_DYNAMIC_BATCHER_H_
#define FERRY_SERVING_BATCHING_DYNAMIC_BATCHER_H_

// DynamicBatcher: the per-model-version scheduler (Triton's dynamic batch
// scheduler). Requests are queued without blocking; `instances` worker
// threads take batches from a BatchQueue (batch_queue.h has the forming
// rules), concatenate the requests' inputs along dimension 0, execute once,
// split the outputs back by rows and answer every request.
//
// Inline execution and drain (options.execute_inline_when_idle with
// max_queue_delay_us 0): an instance is busy whether it executes on a worker
// thread or on a caller's. An Enqueue that finds an instance idle takes it on
// the calling thread, executes the oldest batch (FIFO: it may hold requests
// queued earlier, and need not hold the caller's own), then keeps the
// instance and executes whatever else has queued meanwhile, up to
// kMaxInlineRounds batches, before releasing it (and waking a worker if
// requests remain). An Enqueue that finds every instance busy only queues:
// each busy instance, worker or caller, polls the queue again when its batch
// finishes, so no worker is woken for it. Under load one caller thus serves
// the requests that piled up behind it without a hand-off to a worker thread
// (no futex wake-up or context switch per request).
//
// Batch compatibility: requests are batched together only when they have the
// same input signature — the same set of input names, and per input the same
// datatype and the same dimensions after dimension 0. A request with another
// signature ends the batch being formed (FIFO order is kept). Requested
// outputs may differ: the batch executes with the union of the requested
// output names (all outputs if any request asked for all), and each response
// holds only what its request asked for (all outputs if it named none).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/serving/batching/batch_queue.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/tensor.h"

namespace ferry::serving::batching {

// Failure reasons counted in BatcherStats::failure_count.
inline constexpr std::string_view kFailureRejected = "rejected";  // queue full
inline constexpr std::string_view kFailureTimeout = "timeout";    // deadline passed in queue
inline constexpr std::string_view kFailureBackend = "backend";    // execute (or split) failed
inline constexpr std::string_view kFailureDraining = "draining";  // enqueued after Stop()
inline constexpr std::string_view kFailureInvalid = "invalid";    // bad batch size / priority

// Payload type URL on the Unavailable status of a queue-full rejection; the
// value is the suggested Retry-After in milliseconds, as decimal text. The
// API edge turns it into a Retry-After header.
inline constexpr char kRetryAfterMsPayload[] = "type.ferry.dev/retry_after_ms";

// Cumulative counters since Create() (Triton's model statistics). Requests
// count once each, in success_count or under one failure reason.
struct BatcherStats {
  int64_t success_count = 0;
  // Keyed by the kFailure* reasons above; absent reasons are 0.
  std::map<std::string, int64_t, std::less<>> failure_count;
  int64_t inference_count = 0;  // rows executed successfully
  int64_t execution_count = 0;  // execute calls (batches), failed ones included
  // Sum over executed requests of enqueue -> batch start, microseconds.
  int64_t queue_us_total = 0;
  // Sum over batches of the time spent in execute plus concat/split.
  int64_t compute_us_total = 0;
  // Batch size in rows -> number of executions of that size.
  std::map<int64_t, int64_t> batch_size_count;
};

class DynamicBatcher {
 public:
  // Runs one batch. `inputs` hold one tensor per model input, batched along
  // dimension 0 (unbatched for a model with max_batch_size 0); `outputs` is
  // empty to ask for every output. Returns the outputs, each with the batch's
  // rows in dimension 0 when the model batches. Called from up to
  // `instances` threads at once.
  using ExecuteFn = std::function<absl::StatusOr<std::vector<serving::Tensor>>(
      std::span<const serving::Tensor> inputs, std::span<const serving::RequestedOutput> outputs)>;

  // Starts options.instances worker threads. InvalidArgument for bad options
  // or a null `execute`.
  static absl::StatusOr<std::unique_ptr<DynamicBatcher>> Create(const BatcherOptions& options,
                                                                ExecuteFn execute);

  // Stop()s.
  ~DynamicBatcher();

  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues `request`. Never waits for the model, except with
  // options.execute_inline_when_idle (see the class comment): then, when an
  // instance is idle, the calling thread executes up to kMaxInlineRounds
  // batches before returning, and answers their requests — possibly other
  // callers' — itself. `done` is called exactly once: from a worker thread
  // (or a thread executing inline) with the response, or with
  //   DeadlineExceeded "request timeout expired"  still queued at its timeout
  //                    (request.timeout_us, else options.default_timeout_us);
  //   the execute error (or Internal when outputs cannot be split) for every
  //                    request of a failed batch;
  // or before Enqueue returns, on the calling thread, with
  //   Unavailable "queue full (max_queue_size N)" (with kRetryAfterMsPayload);
  //   Unavailable "draining"  after Stop();
  //   InvalidArgument  batch size < 1 or > max_batch_size, inputs disagreeing
  //                    on dimension 0, or priority > priority_levels.
  // The caller has validated the inputs against the model (names, datatypes,
  // ValidateTensorData). The response carries id = request.id; model_name and
  // model_version are left for the caller to fill. Thread-safe.
  void Enqueue(serving::InferRequest request, serving::InferCallback done);

  // Stops accepting requests, executes everything already queued (without
  // waiting for delay windows), joins the workers and waits for inline
  // executions already running (they stop draining: the workers flush the
  // rest). On return every request accepted so far has been answered.
  // Idempotent and thread-safe; must not be called from inside `execute` or a
  // `done` callback.
  void Stop();

  // Requests queued or executing (answered requests are not counted by the
  // time their `done` runs). Thread-safe.
  int64_t pending() const;

  // Snapshot of the counters. Thread-safe.
  BatcherStats Stats() const;

  const BatcherOptions& options() const { return options_; }

  // Most batches one Enqueue call executes inline (its first included) before
  // handing the queue back to the workers. Bounds how long an I/O thread is
  // kept from its own sockets while requests keep arriving.
  static constexpr int kMaxInlineRounds = 8;

 private:
  DynamicBatcher(const BatcherOptions& options, ExecuteFn execute, BatchQueue queue);

  // execute_inline_when_idle in effect (it needs max_queue_delay_us 0).
  bool InlineEnabled() const {
    return options_.execute_inline_when_idle && options_.max_queue_delay_us == 0;
  }
  void WorkerLoop();
  // Requests are left in the queue while an instance is free: a worker should
  // be woken to take them. (When every instance is busy each re-polls as it
  // finishes, so nobody needs waking.) Requires mu_.
  bool IdleInstanceHasWork() const { return queue_.size() > 0 && busy_ < options_.instances; }
  // Called by Enqueue holding an instance (busy_, inline_) with the first
  // Poll's result: executes it, then re-polls and executes until the queue is
  // empty, kMaxInlineRounds batches ran, or Stop(); then releases the
  // instance. Touches nothing of `this` after releasing it.
  void DrainInline(BatchQueue::PollResult polled, int64_t poll_us);
  // Runs one batch outside the lock and answers its requests.
  void RunBatch(std::vector<QueuedRequest> batch, int64_t start_us);
  void FailExpired(std::vector<QueuedRequest> expired);
  void CountFailure(std::string_view reason, int64_t requests);
  int64_t RetryAfterMs(int64_t queued) const;

  const BatcherOptions options_;
  const ExecuteFn execute_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // workers wait here
  std::condition_variable idle_cv_;  // Stop() waits here for inline_ == 0
  BatchQueue queue_;                 // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  int busy_ = 0;                     // guarded by mu_; instances executing (workers + inline)
  int inline_ = 0;                   // guarded by mu_; Enqueue calls holding an instance
  std::vector<std::thread> workers_;
  std::once_flag join_once_;

  std::atomic<int64_t> pending_{0};

  mutable std::mutex stats_mu_;
  BatcherStats stats_;  // guarded by stats_mu_
};

}  // namespace ferry::serving::batching

#endif  // FERRY_SERVING_BATCHING_DYNAMIC_BATCHER_H_
