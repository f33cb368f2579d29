#ifndef FERRY_SERVING_BATCHING_BATCH_QUEUE_H_
#define FERRY_SERVING_BATCHING_BATCH_QUEUE_H_

// The scheduling core of the dynamic batcher (Triton dynamic-batcher
// semantics): a priority queue of inference requests that decides, given the
// current time, which requests form the next batch. It owns no threads and
// reads no clock — every call takes `now_us` — so tests drive it with plain
// integers. DynamicBatcher (dynamic_batcher.h) wraps it with a mutex, worker
// threads and a Clock.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ferry/common/clock.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/tensor.h"

namespace ferry::serving::batching {

// Scheduling options of one model version (Triton's `max_batch_size` and
// `dynamic_batching { ... }` config, plus `instance_group.count`). Fill with
// designated initializers; check with ValidateBatcherOptions().
struct BatcherOptions {
  // Largest batch, in rows (dimension 0), one execution receives. 0 means the
  // model does not batch: its tensors have no batch dimension and every
  // request executes alone (no delay window). Default 8.
  int64_t max_batch_size = 8;
  // Batch sizes (rows) the model runs best at, each in [1, max_batch_size].
  // Reaching the largest one dispatches at once; when the delay window ends
  // the batcher takes the largest preferred size it can form exactly.
  // Default: none (max_batch_size is the only target).
  std::vector<int64_t> preferred_batch_sizes;
  // How long the oldest queued request may wait for a batch to fill, in
  // microseconds. 0 (the default) dispatches whatever is queued immediately.
  int64_t max_queue_delay_us = 0;
  // Most requests queued (not yet executing) at once; beyond it Enqueue fails
  // with ResourceExhausted (HTTP 503). 0 = unbounded. Default 1024.
  int64_t max_queue_size = 1024;
  // Number of priority levels; level 1 is the highest priority (Triton).
  // Default 1 (no priorities).
  uint32_t priority_levels = 1;
  // Level of requests that carry priority 0 ("no priority"). 0 (the default)
  // means the lowest level, `priority_levels`, so explicitly prioritised
  // requests overtake unprioritised traffic. Otherwise in [1, priority_levels].
  uint32_t default_priority_level = 0;
  // Queue timeout, in microseconds, of requests that carry no timeout of their
  // own. A request still queued when its timeout expires fails with
  // DeadlineExceeded; once executing it is never cancelled. 0 (default): none.
  // Applied by DynamicBatcher::Enqueue; BatchQueue only reads each item's
  // deadline_us.
  int64_t default_timeout_us = 0;
  // Execution threads ("model instances"); up to this many batches run
  // concurrently. Default 1.
  int instances = 1;
  // When true and max_queue_delay_us is 0: a request that arrives while an
  // instance is idle takes that instance on the calling thread, which
  // executes the oldest batch (FIFO, so it may include requests queued
  // earlier) and then keeps draining whatever queued meanwhile, up to
  // DynamicBatcher::kMaxInlineRounds batches, before handing back to the
  // worker threads. Requests arriving while every instance is busy queue and
  // batch as usual, without waking a worker (the busy instances re-poll).
  // Saves the hand-off to a worker thread (futex wake-ups and context
  // switches) at low and high load. Default false; `ferry serve` enables it
  // (the caller is an I/O thread that may block for a few executions and
  // answers other requests' callbacks).
  bool execute_inline_when_idle = false;
  // Source of time for the delay window, timeouts and statistics. Not owned;
  // must outlive the batcher. Default the real clock.
  Clock* clock = Clock::Real();
};

// OK, or InvalidArgument naming the first bad field.
absl::Status ValidateBatcherOptions(const BatcherOptions& options);

// One queued request and what the scheduler needs to know about it.
struct QueuedRequest {
  serving::InferRequest request;
  // Called exactly once by whoever takes the item out of the queue.
  serving::InferCallback done;
  // Set by BatchQueue::Enqueue to its `now_us`.
  int64_t enqueue_us = 0;
  // Absolute monotonic time after which the request may no longer start;
  // 0 = none.
  int64_t deadline_us = 0;
  // Rows in dimension 0 (the request's batch size); >= 1. For a model that
  // does not batch, any value >= 1 (DynamicBatcher uses 1).
  int64_t rows = 1;
  // Priority level, 1 = highest. 0 = the options' default level (Enqueue
  // replaces it by the resolved level).
  uint32_t level = 0;
  // Requests are batched together only when their keys are equal (the
  // DynamicBatcher uses the input name/datatype/trailing-shape signature).
  // A request with a different key ends the batch being formed.
  std::string batch_key;
};

// Single-threaded: callers serialise access (DynamicBatcher holds its mutex).
// Movable, not copyable.
class BatchQueue {
 public:
  // What one Poll() decided. The caller owns every item returned and must
  // call its `done`.
  struct PollResult {
    // Requests to execute now as one batch, in execution order (priority
    // level, then arrival). Empty when nothing is ready.
    std::vector<QueuedRequest> batch;
    // Requests whose deadline passed while queued; the caller fails them with
    // DeadlineExceeded.
    std::vector<QueuedRequest> expired;
    // When to Poll again if nothing is enqueued meanwhile: `now_us` if more
    // is ready at once, else the end of the delay window or the earliest
    // deadline (possibly early; a spurious Poll is harmless). nullopt when
    // the queue is empty.
    std::optional<int64_t> next_wake_us;
  };

  // InvalidArgument if ValidateBatcherOptions(options) fails.
  static absl::StatusOr<BatchQueue> Create(const BatcherOptions& options);

  BatchQueue(BatchQueue&&) = default;
  BatchQueue& operator=(BatchQueue&&) = default;

  // Queues `item` at `now_us` (stamped into enqueue_us) and resolves level 0
  // to the default level. Fails without taking ownership of the callback's
  // duty (the caller still answers `done`):
  //   ResourceExhausted  max_queue_size requests are already queued;
  //   InvalidArgument    rows < 1, rows > max_batch_size (batching models),
  //                      or level > priority_levels.
  // On failure `item` is left unmoved.
  absl::Status Enqueue(QueuedRequest&& item, int64_t now_us);

  // Expires timed-out requests (deadline_us <= now_us) and returns the next
  // batch if one should start at `now_us`. Batch forming:
  //  - candidates are taken in priority order, FIFO within a level, while
  //    they fit in max_batch_size rows and share the first one's batch_key;
  //    the first that does not fit or differs ends the candidate run (no
  //    overtaking, so large requests are not starved);
  //  - the candidates are dispatched at once when they fill max_batch_size,
  //    when the run is cut short by a request that does not fit or differs,
  //    when they reach (or pass) the largest preferred size, when
  //    max_queue_delay_us is 0, or when the oldest queued request has
  //    waited max_queue_delay_us; otherwise Poll returns no batch;
  //  - a dispatched batch is all candidates if they fill max_batch_size;
  //    else the longest candidate prefix whose rows equal a preferred size;
  //    else all candidates.
  // A model that does not batch (max_batch_size 0) gets one request per
  // batch, with no delay.
  PollResult Poll(int64_t now_us);

  // As Poll, but ignores the delay window: anything queued is dispatched now
  // (all candidates, without preferred-size trimming). Used to drain.
  PollResult Flush(int64_t now_us);

  // Requests queued.
  int64_t size() const { return size_; }
  // Sum of `rows` over queued requests.
  int64_t pending_rows() const { return pending_rows_; }
  // Level a request with `priority` goes to (0 -> default level); values
  // above priority_levels are returned unchanged (Enqueue rejects them).
  uint32_t ResolveLevel(uint32_t priority) const;
  const BatcherOptions& options() const { return options_; }

 private:
  enum class DelayPolicy { kHonour, kIgnore };

  struct Plan {
    size_t take = 0;  // items to dispatch, in walk order
    bool ready = false;
    std::optional<int64_t> wake_us;  // when not ready
  };

  explicit BatchQueue(const BatcherOptions& options);

  PollResult PollImpl(int64_t now_us, DelayPolicy policy);
  void ExpireInto(int64_t now_us, std::vector<QueuedRequest>& expired);
  Plan MakePlan(int64_t now_us, DelayPolicy policy) const;
  std::vector<QueuedRequest> TakeFront(size_t count);

  BatcherOptions options_;
  int64_t max_preferred_ = 0;  // 0 when there are no preferred sizes
  // levels_[i] holds level i + 1, each FIFO.
  std::vector<std::deque<QueuedRequest>> levels_;
  int64_t size_ = 0;
  int64_t pending_rows_ = 0;
  // Lower bound of the deadlines still queued (0: none queued), so Poll skips
  // the expiry scan until it can matter.
  int64_t min_deadline_us_ = 0;
};

}  // namespace ferry::serving::batching

#endif  // FERRY_SERVING_BATCHING_BATCH_QUEUE_H_
