#include "ferry/serving/batching/dynamic_batcher.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace ferry::serving::batching {
namespace {

using serving::InferRequest;
using serving::InferResponse;
using serving::RequestedOutput;
using serving::Tensor;

// Checks dimension 0 and fills `item.rows` and `item.batch_key` (the input
// signature: sorted names, datatypes and dims after dimension 0).
absl::Status Describe(const InferRequest& request, int64_t max_batch_size, QueuedRequest& item) {
  if (max_batch_size == 0) {
    item.rows = 1;  // unbatched tensors: every request runs alone anyway
    return absl::OkStatus();
  }
  std::vector<const Tensor*> inputs;
  inputs.reserve(request.inputs.size());
  int64_t rows = -1;
  for (const Tensor& input : request.inputs) {
    if (input.shape.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", input.name, "' has no batch dimension (the model batches on dimension 0)"));
    }
    if (rows == -1) {
      rows = input.shape[0];
    } else if (input.shape[0] != rows) {
      return absl::InvalidArgumentError(
          absl::StrCat("inputs disagree on the batch size (dimension 0): '", input.name, "' has ",
                       input.shape[0], ", expected ", rows));
    }
    inputs.push_back(&input);
  }
  item.rows = rows == -1 ? 1 : rows;
  std::sort(inputs.begin(), inputs.end(),
            [](const Tensor* a, const Tensor* b) { return a->name < b->name; });
  std::string key;
  for (const Tensor* input : inputs) {
    // Names cannot contain NUL in either protocol encoding we accept, so the
    // separators keep distinct signatures distinct.
    key += input->name;
    key.push_back('\0');
    key += serving::DataTypeName(input->datatype);
    for (size_t d = 1; d < input->shape.size(); ++d) absl::StrAppend(&key, ",", input->shape[d]);
    key.push_back('\n');
  }
  item.batch_key = std::move(key);
  return absl::OkStatus();
}

const Tensor* FindInput(const InferRequest& request, const std::string& name) {
  for (const Tensor& input : request.inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

bool Wants(const InferRequest& request, const std::string& output_name) {
  if (request.outputs.empty()) return true;
  return std::any_of(request.outputs.begin(), request.outputs.end(),
                     [&](const RequestedOutput& o) { return o.name == output_name; });
}

std::vector<Tensor> FilterOutputs(const InferRequest& request, std::vector<Tensor> outputs) {
  if (request.outputs.empty()) return outputs;
  std::vector<Tensor> kept;
  kept.reserve(request.outputs.size());
  for (Tensor& output : outputs) {
    if (Wants(request, output.name)) kept.push_back(std::move(output));
  }
  return kept;
}

// A copy of `status` that shares no heap state with it. Each request of a
// failed batch gets its own, so callers on other threads never share a
// reference count that lives in (uninstrumented) libabsl — which
// ThreadSanitizer reports as a race.
absl::Status IndependentCopy(const absl::Status& status) {
  absl::Status copy(status.code(), status.message());
  status.ForEachPayload([&copy](absl::string_view type_url, const absl::Cord& payload) {
    copy.SetPayload(type_url, absl::Cord(std::string(payload)));
  });
  return copy;
}

int64_t SaturatingAdd(int64_t now_us, uint64_t delta_us) {
  const uint64_t room = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - now_us);
  return delta_us >= room ? std::numeric_limits<int64_t>::max()
                          : now_us + static_cast<int64_t>(delta_us);
}

// Executes `batch` once and returns each request's outputs, in batch order.
absl::StatusOr<std::vector<std::vector<Tensor>>> ExecuteBatch(
    const DynamicBatcher::ExecuteFn& execute, const std::vector<QueuedRequest>& batch) {
  std::vector<std::vector<Tensor>> per_request;
  per_request.reserve(batch.size());
  if (batch.size() == 1) {
    const InferRequest& request = batch.front().request;
    absl::StatusOr<std::vector<Tensor>> outputs = execute(request.inputs, request.outputs);
    if (!outputs.ok()) return outputs.status();
    per_request.push_back(FilterOutputs(request, *std::move(outputs)));
    return per_request;
  }

  // Requests share the input signature (batch_key), so each name is present
  // in every request.
  const InferRequest& first = batch.front().request;
  std::vector<Tensor> inputs;
  inputs.reserve(first.inputs.size());
  std::vector<const Tensor*> parts(batch.size());
  for (const Tensor& input : first.inputs) {
    for (size_t i = 0; i < batch.size(); ++i) {
      parts[i] = FindInput(batch[i].request, input.name);
      if (parts[i] == nullptr) {
        return absl::InternalError(absl::StrCat("batched request lacks input '", input.name, "'"));
      }
    }
    absl::StatusOr<Tensor> joined = serving::ConcatBatch(parts);
    if (!joined.ok()) return joined.status();
    inputs.push_back(*std::move(joined));
  }

  std::vector<RequestedOutput> requested;
  bool all_outputs = false;
  std::vector<int64_t> rows;
  rows.reserve(batch.size());
  for (const QueuedRequest& item : batch) {
    rows.push_back(item.rows);
    if (item.request.outputs.empty()) all_outputs = true;
    for (const RequestedOutput& output : item.request.outputs) {
      bool seen = std::any_of(requested.begin(), requested.end(),
                              [&](const RequestedOutput& r) { return r.name == output.name; });
      if (!seen) requested.push_back(output);
    }
  }
  if (all_outputs) requested.clear();

  absl::StatusOr<std::vector<Tensor>> outputs = execute(inputs, requested);
  if (!outputs.ok()) return outputs.status();

  per_request.resize(batch.size());
  for (const Tensor& output : *outputs) {
    absl::StatusOr<std::vector<Tensor>> pieces = serving::SplitBatch(output, rows);
    if (!pieces.ok()) {
      return absl::InternalError(
          absl::StrCat("cannot split output '", output.name,
                       "' into the batch's requests: ", pieces.status().message()));
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (Wants(batch[i].request, output.name)) per_request[i].push_back(std::move((*pieces)[i]));
    }
  }
  return per_request;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DynamicBatcher>> DynamicBatcher::Create(
    const BatcherOptions& options, ExecuteFn execute) {
  if (!execute) return absl::InvalidArgumentError("execute function must not be empty");
  absl::StatusOr<BatchQueue> queue = BatchQueue::Create(options);
  if (!queue.ok()) return queue.status();
  return std::unique_ptr<DynamicBatcher>(
      new DynamicBatcher(options, std::move(execute), *std::move(queue)));
}

DynamicBatcher::DynamicBatcher(const BatcherOptions& options, ExecuteFn execute, BatchQueue queue)
    : options_(options), execute_(std::move(execute)), queue_(std::move(queue)) {
  workers_.reserve(options_.instances);
  for (int i = 0; i < options_.instances; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

DynamicBatcher::~DynamicBatcher() { Stop(); }

void DynamicBatcher::Enqueue(serving::InferRequest request, serving::InferCallback done) {
  QueuedRequest item;
  if (absl::Status status = Describe(request, options_.max_batch_size, item); !status.ok()) {
    CountFailure(kFailureInvalid, 1);
    done(std::move(status));
    return;
  }
  const int64_t now_us = options_.clock->MonotonicMicros();
  const uint64_t timeout_us = request.timeout_us != 0
                                  ? request.timeout_us
                                  : static_cast<uint64_t>(options_.default_timeout_us);
  if (timeout_us != 0) item.deadline_us = std::max<int64_t>(1, SaturatingAdd(now_us, timeout_us));
  item.level = request.priority;
  item.request = std::move(request);
  item.done = std::move(done);

  absl::Status status;
  int64_t queued = 0;
  bool wake_worker = false;
  bool run_inline = false;
  BatchQueue::PollResult first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      status = absl::UnavailableError("draining");
    } else {
      status = queue_.Enqueue(std::move(item), now_us);
      if (status.ok()) {
        pending_.fetch_add(1, std::memory_order_relaxed);
        if (!InlineEnabled()) {
          // Workers own the delay window and preferred sizes: always wake one.
          wake_worker = true;
        } else if (busy_ < options_.instances) {
          // An idle instance: this thread takes it and executes the oldest
          // batch (which includes `item` unless older requests fill it).
          ++busy_;
          ++inline_;
          run_inline = true;
          first = queue_.Poll(now_us);
          wake_worker = IdleInstanceHasWork();
        }
        // Otherwise every instance is busy, and each re-polls the queue when
        // its batch finishes (WorkerLoop and DrainInline): no wake-up needed.
      }
    }
    queued = queue_.size();
  }
  if (wake_worker) cv_.notify_one();
  if (run_inline) {
    DrainInline(std::move(first), now_us);
    return;
  }
  if (status.ok()) return;
  // Enqueue left `item` unmoved; answer it here.
  if (absl::IsResourceExhausted(status)) {
    CountFailure(kFailureRejected, 1);
    status = absl::UnavailableError(status.message());
    status.SetPayload(kRetryAfterMsPayload, absl::Cord(absl::StrCat(RetryAfterMs(queued))));
  } else if (absl::IsUnavailable(status)) {
    CountFailure(kFailureDraining, 1);
  } else {
    CountFailure(kFailureInvalid, 1);
  }
  item.done(std::move(status));
}

void DynamicBatcher::DrainInline(BatchQueue::PollResult polled, int64_t poll_us) {
  // Holds one instance (busy_) and one inline_ count from Enqueue until the
  // release below.
  for (int round = 1;; ++round) {
    FailExpired(std::move(polled.expired));
    if (!polled.batch.empty()) RunBatch(std::move(polled.batch), poll_us);
    std::unique_lock<std::mutex> lock(mu_);
    // After Stop() the workers flush the queue (ignoring busy_); this thread
    // leaves it to them and returns to its own sockets.
    if (round < kMaxInlineRounds && !stopping_) {
      poll_us = options_.clock->MonotonicMicros();
      polled = queue_.Poll(poll_us);
      if (!polled.batch.empty() || !polled.expired.empty()) {
        const bool wake_worker = IdleInstanceHasWork();
        lock.unlock();
        if (wake_worker) cv_.notify_one();
        continue;
      }
    }
    --busy_;
    --inline_;
    // Released with work still queued (round bound or Stop()): hand it to a
    // worker. With max_queue_delay_us 0 an empty Poll means an empty queue,
    // so the common exit wakes nobody.
    if (queue_.size() > 0) cv_.notify_one();
    if (inline_ == 0 && stopping_) idle_cv_.notify_all();
    // Notified under the lock: once it is released Stop() may return and the
    // batcher may be destroyed, so nothing below touches `this`.
    return;
  }
}

void DynamicBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::call_once(join_once_, [this] {
    for (std::thread& worker : workers_) worker.join();
  });
  // Inline executions still running were started before stopping_ and may
  // hold requests other callers queued; their callbacks run before we return.
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return inline_ == 0; });
}

int64_t DynamicBatcher::pending() const { return pending_.load(std::memory_order_relaxed); }

BatcherStats DynamicBatcher::Stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void DynamicBatcher::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Inline executions hold every instance. An inline caller that releases
    // one with requests still queued wakes a worker; Stop() wakes all.
    if (busy_ >= options_.instances && !stopping_) {
      cv_.wait(lock);
      continue;
    }
    const int64_t now_us = options_.clock->MonotonicMicros();
    BatchQueue::PollResult polled = stopping_ ? queue_.Flush(now_us) : queue_.Poll(now_us);
    if (!polled.batch.empty() || !polled.expired.empty()) {
      const bool executes = !polled.batch.empty();
      if (executes) ++busy_;
      if (IdleInstanceHasWork()) cv_.notify_one();
      lock.unlock();
      FailExpired(std::move(polled.expired));
      if (executes) RunBatch(std::move(polled.batch), now_us);
      lock.lock();
      if (executes) --busy_;
      continue;
    }
    if (stopping_ && queue_.size() == 0) return;
    if (polled.next_wake_us.has_value()) {
      // Derived from options_.clock; with the real clock (steady_clock) this
      // is the exact wake-up time, with a fake clock a real-time bound after
      // which the worker re-polls.
      const int64_t wait_us = std::max<int64_t>(0, *polled.next_wake_us - now_us);
      cv_.wait_until(lock, std::chrono::steady_clock::now() + std::chrono::microseconds(wait_us));
    } else {
      cv_.wait(lock);
    }
  }
}

void DynamicBatcher::RunBatch(std::vector<QueuedRequest> batch, int64_t start_us) {
  int64_t rows = 0;
  int64_t queue_us = 0;
  for (const QueuedRequest& item : batch) {
    rows += item.rows;
    queue_us += std::max<int64_t>(0, start_us - item.enqueue_us);
  }
  const int64_t compute_start_us = options_.clock->MonotonicMicros();
  absl::StatusOr<std::vector<std::vector<Tensor>>> outputs = ExecuteBatch(execute_, batch);
  const int64_t compute_us =
      std::max<int64_t>(0, options_.clock->MonotonicMicros() - compute_start_us);
  const int64_t count = static_cast<int64_t>(batch.size());
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.execution_count;
    ++stats_.batch_size_count[rows];
    stats_.queue_us_total += queue_us;
    stats_.compute_us_total += compute_us;
    if (outputs.ok()) {
      stats_.success_count += count;
      stats_.inference_count += rows;
    } else {
      auto [it, inserted] = stats_.failure_count.try_emplace(std::string(kFailureBackend), 0);
      it->second += count;
    }
  }
  pending_.fetch_sub(count, std::memory_order_relaxed);
  for (size_t i = 0; i < batch.size(); ++i) {
    QueuedRequest& item = batch[i];
    if (!outputs.ok()) {
      item.done(IndependentCopy(outputs.status()));
      continue;
    }
    InferResponse response;
    response.id = item.request.id;
    response.outputs = std::move((*outputs)[i]);
    item.done(std::move(response));
  }
}

void DynamicBatcher::FailExpired(std::vector<QueuedRequest> expired) {
  if (expired.empty()) return;
  CountFailure(kFailureTimeout, static_cast<int64_t>(expired.size()));
  pending_.fetch_sub(static_cast<int64_t>(expired.size()), std::memory_order_relaxed);
  for (QueuedRequest& item : expired) {
    item.done(absl::DeadlineExceededError("request timeout expired"));
  }
}

void DynamicBatcher::CountFailure(std::string_view reason, int64_t requests) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  auto [it, inserted] = stats_.failure_count.try_emplace(std::string(reason), 0);
  it->second += requests;
}

int64_t DynamicBatcher::RetryAfterMs(int64_t queued) const {
  // Time for the instances to work through the queue at the mean execution
  // time so far; 1 s before anything has executed. Clamped to [1 ms, 60 s].
  int64_t executions = 0;
  int64_t compute_us = 0;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    executions = stats_.execution_count;
    compute_us = stats_.compute_us_total;
  }
  if (executions == 0) return 1000;
  const int64_t per_batch = std::max<int64_t>(1, options_.max_batch_size);
  const int64_t batches = (queued + per_batch - 1) / per_batch;
  const double estimate_ms = static_cast<double>(compute_us) / static_cast<double>(executions) *
                             static_cast<double>(batches) / options_.instances / 1000.0;
  return static_cast<int64_t>(std::clamp(estimate_ms, 1.0, 60'000.0));
}

}  // namespace ferry::serving::batching
