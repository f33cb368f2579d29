#include "ferry/serving/batching/batch_queue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ferry::serving::batching {

absl::Status ValidateBatcherOptions(const BatcherOptions& options) {
  if (options.max_batch_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_size must be >= 0, got ", options.max_batch_size));
  }
  for (int64_t size : options.preferred_batch_sizes) {
    if (options.max_batch_size == 0) {
      return absl::InvalidArgumentError(
          "preferred_batch_sizes needs a batching model (max_batch_size > 0)");
    }
    if (size < 1 || size > options.max_batch_size) {
      return absl::InvalidArgumentError(absl::StrCat("preferred batch size ", size,
                                                     " is outside [1, max_batch_size ",
                                                     options.max_batch_size, "]"));
    }
  }
  if (options.max_queue_delay_us < 0) {
    return absl::InvalidArgumentError("max_queue_delay_us must be >= 0");
  }
  if (options.max_queue_size < 0) {
    return absl::InvalidArgumentError("max_queue_size must be >= 0 (0 = unbounded)");
  }
  if (options.priority_levels < 1) {
    return absl::InvalidArgumentError("priority_levels must be >= 1");
  }
  if (options.default_priority_level > options.priority_levels) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_priority_level ", options.default_priority_level,
                     " exceeds priority_levels ", options.priority_levels));
  }
  if (options.default_timeout_us < 0) {
    return absl::InvalidArgumentError("default_timeout_us must be >= 0 (0 = none)");
  }
  if (options.instances < 1) {
    return absl::InvalidArgumentError("instances must be >= 1");
  }
  if (options.clock == nullptr) {
    return absl::InvalidArgumentError("clock must not be null");
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchQueue> BatchQueue::Create(const BatcherOptions& options) {
  if (absl::Status status = ValidateBatcherOptions(options); !status.ok()) return status;
  return BatchQueue(options);
}

BatchQueue::BatchQueue(const BatcherOptions& options)
    : options_(options), levels_(options.priority_levels) {
  for (int64_t size : options_.preferred_batch_sizes) {
    max_preferred_ = std::max(max_preferred_, size);
  }
}

uint32_t BatchQueue::ResolveLevel(uint32_t priority) const {
  if (priority != 0) return priority;
  return options_.default_priority_level == 0 ? options_.priority_levels
                                              : options_.default_priority_level;
}

absl::Status BatchQueue::Enqueue(QueuedRequest&& item, int64_t now_us) {
  if (item.rows < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("request batch size must be >= 1, got ", item.rows));
  }
  if (options_.max_batch_size > 0 && item.rows > options_.max_batch_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request batch size ", item.rows, " exceeds max_batch_size ", options_.max_batch_size));
  }
  uint32_t level = ResolveLevel(item.level);
  if (level > options_.priority_levels) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority ", item.level, " is outside [1, ", options_.priority_levels, "]"));
  }
  if (options_.max_queue_size > 0 && size_ >= options_.max_queue_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full (max_queue_size ", options_.max_queue_size, ")"));
  }
  item.level = level;
  item.enqueue_us = now_us;
  if (item.deadline_us != 0 && (min_deadline_us_ == 0 || item.deadline_us < min_deadline_us_)) {
    min_deadline_us_ = item.deadline_us;
  }
  ++size_;
  pending_rows_ += item.rows;
  levels_[level - 1].push_back(std::move(item));
  return absl::OkStatus();
}

BatchQueue::PollResult BatchQueue::Poll(int64_t now_us) {
  return PollImpl(now_us, DelayPolicy::kHonour);
}

BatchQueue::PollResult BatchQueue::Flush(int64_t now_us) {
  return PollImpl(now_us, DelayPolicy::kIgnore);
}

BatchQueue::PollResult BatchQueue::PollImpl(int64_t now_us, DelayPolicy policy) {
  PollResult result;
  ExpireInto(now_us, result.expired);
  Plan plan = MakePlan(now_us, policy);
  if (plan.ready) {
    result.batch = TakeFront(plan.take);
    plan = MakePlan(now_us, policy);
  }
  if (plan.ready) {
    result.next_wake_us = now_us;
  } else {
    result.next_wake_us = plan.wake_us;
  }
  return result;
}

void BatchQueue::ExpireInto(int64_t now_us, std::vector<QueuedRequest>& expired) {
  if (min_deadline_us_ == 0 || now_us < min_deadline_us_) return;
  int64_t next_min = 0;
  for (std::deque<QueuedRequest>& level : levels_) {
    std::deque<QueuedRequest> kept;
    for (QueuedRequest& item : level) {
      if (item.deadline_us != 0 && item.deadline_us <= now_us) {
        --size_;
        pending_rows_ -= item.rows;
        expired.push_back(std::move(item));
        continue;
      }
      if (item.deadline_us != 0 && (next_min == 0 || item.deadline_us < next_min)) {
        next_min = item.deadline_us;
      }
      kept.push_back(std::move(item));
    }
    level = std::move(kept);
  }
  min_deadline_us_ = next_min;
}

BatchQueue::Plan BatchQueue::MakePlan(int64_t now_us, DelayPolicy policy) const {
  Plan plan;
  if (size_ == 0) return plan;

  // Deadlines still queued bound how long the caller may sleep.
  auto wake_at = [&](int64_t t) {
    if (!plan.wake_us.has_value() || t < *plan.wake_us) plan.wake_us = t;
  };
  if (min_deadline_us_ != 0) wake_at(min_deadline_us_);

  if (options_.max_batch_size == 0) {
    plan.take = 1;
    plan.ready = true;
    return plan;
  }

  // Walk candidates in priority order, FIFO within a level.
  const std::string* key = nullptr;
  int64_t rows = 0;
  size_t count = 0;
  size_t preferred_count = 0;  // longest prefix whose rows are a preferred size
  bool cut_short = false;
  int64_t oldest_us = 0;
  bool have_oldest = false;
  for (const std::deque<QueuedRequest>& level : levels_) {
    if (level.empty()) continue;
    if (!have_oldest || level.front().enqueue_us < oldest_us) {
      oldest_us = level.front().enqueue_us;
      have_oldest = true;
    }
    if (cut_short) continue;  // keep scanning fronts for the oldest request
    for (const QueuedRequest& item : level) {
      if (key != nullptr && item.batch_key != *key) {
        cut_short = true;
        break;
      }
      if (rows + item.rows > options_.max_batch_size) {
        cut_short = true;
        break;
      }
      key = &item.batch_key;
      rows += item.rows;
      ++count;
      if (std::find(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end(),
                    rows) != options_.preferred_batch_sizes.end()) {
        preferred_count = count;
      }
    }
  }

  const bool full = rows == options_.max_batch_size;
  const bool reached_preferred = max_preferred_ > 0 && rows >= max_preferred_;
  const int64_t window_end = oldest_us + options_.max_queue_delay_us;
  const bool window_over = options_.max_queue_delay_us == 0 || now_us >= window_end;
  plan.ready =
      policy == DelayPolicy::kIgnore || full || cut_short || reached_preferred || window_over;
  if (!plan.ready) {
    wake_at(window_end);
    return plan;
  }
  if (full || policy == DelayPolicy::kIgnore || preferred_count == 0) {
    plan.take = count;
  } else {
    plan.take = preferred_count;
  }
  plan.wake_us.reset();
  return plan;
}

std::vector<QueuedRequest> BatchQueue::TakeFront(size_t count) {
  std::vector<QueuedRequest> batch;
  batch.reserve(count);
  for (std::deque<QueuedRequest>& level : levels_) {
    while (batch.size() < count && !level.empty()) {
      QueuedRequest& item = level.front();
      --size_;
      pending_rows_ -= item.rows;
      batch.push_back(std::move(item));
      level.pop_front();
    }
    if (batch.size() == count) break;
  }
  if (size_ == 0) min_deadline_us_ = 0;
  return batch;
}

}  // namespace ferry::serving::batching
