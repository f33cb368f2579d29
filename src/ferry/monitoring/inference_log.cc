#include "ferry/monitoring/inference_log.h"

#include <utility>

#include "absl/status/status.h"

namespace ferry::monitoring {

absl::StatusOr<std::unique_ptr<InferenceLog>> InferenceLog::Create(
    const InferenceLogOptions& options) {
  if (options.capacity < 1) {
    return absl::InvalidArgumentError("inference log capacity must be at least 1");
  }
  if (options.max_batch < 1) {
    return absl::InvalidArgumentError("inference log max_batch must be at least 1");
  }
  // Private constructor: no make_unique.
  std::unique_ptr<InferenceLog> log(new InferenceLog(options));
  log->thread_ = std::thread([raw = log.get()] { raw->Run(); });
  return log;
}

InferenceLog::InferenceLog(const InferenceLogOptions& options)
    : options_(options), cells_(std::make_unique<Cell[]>(options.capacity)) {
  for (size_t i = 0; i < options_.capacity; ++i) {
    cells_[i].sequence.store(i, std::memory_order_relaxed);
  }
}

InferenceLog::~InferenceLog() { Stop(); }

bool InferenceLog::TryPush(InferenceRecord&& record) {
  // seq_cst pairs with Stop()'s store and the consumer's final load (a
  // Dekker handshake): a producer that saw stopping_ == false is still
  // counted in active_producers_ when the consumer checks it.
  active_producers_.fetch_add(1, std::memory_order_seq_cst);
  if (stopping_.load(std::memory_order_seq_cst)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    active_producers_.fetch_sub(1, std::memory_order_seq_cst);
    return false;
  }
  const uint64_t capacity = options_.capacity;
  uint64_t pos = enqueue_pos_.load(std::memory_order_relaxed);
  Cell* cell = nullptr;
  for (;;) {
    cell = &cells_[pos % capacity];
    const uint64_t sequence = cell->sequence.load(std::memory_order_acquire);
    const int64_t diff = static_cast<int64_t>(sequence) - static_cast<int64_t>(pos);
    if (diff == 0) {
      if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
    } else if (diff < 0) {
      // The cell still holds the record from one lap ago: full.
      dropped_.fetch_add(1, std::memory_order_relaxed);
      active_producers_.fetch_sub(1, std::memory_order_seq_cst);
      return false;
    } else {
      pos = enqueue_pos_.load(std::memory_order_relaxed);
    }
  }
  cell->record = std::move(record);
  cell->sequence.store(pos + 1, std::memory_order_release);
  // Wake the consumer only when it sleeps: a futex wake per request would
  // cost a context switch per inference. Pairs with the fence in Run().
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (idle_.load(std::memory_order_relaxed) && idle_.exchange(false, std::memory_order_acq_rel)) {
    wakeups_.fetch_add(1, std::memory_order_release);
    wakeups_.notify_one();
  }
  // Last touch of *this: Stop() may return and the log be destroyed as soon
  // as the consumer sees 0.
  active_producers_.fetch_sub(1, std::memory_order_seq_cst);
  return true;
}

void InferenceLog::Subscribe(Subscriber subscriber) {
  auto shared = std::make_shared<const Subscriber>(std::move(subscriber));
  std::lock_guard lock(subscribers_mu_);
  subscribers_.push_back(std::move(shared));
}

void InferenceLog::PopBatch(std::vector<InferenceRecord>& batch) {
  const uint64_t capacity = options_.capacity;
  while (batch.size() < options_.max_batch) {
    Cell& cell = cells_[dequeue_pos_ % capacity];
    if (cell.sequence.load(std::memory_order_acquire) != dequeue_pos_ + 1) break;
    batch.push_back(std::move(cell.record));
    cell.record = InferenceRecord();
    cell.sequence.store(dequeue_pos_ + capacity, std::memory_order_release);
    ++dequeue_pos_;
  }
}

void InferenceLog::Deliver(const std::vector<InferenceRecord>& batch) {
  std::vector<std::shared_ptr<const Subscriber>> subscribers;
  {
    std::lock_guard lock(subscribers_mu_);
    subscribers = subscribers_;
  }
  for (const auto& subscriber : subscribers) (*subscriber)(batch);
  delivered_.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
}

void InferenceLog::Run() {
  std::vector<InferenceRecord> batch;
  batch.reserve(options_.max_batch);
  auto drain_once = [&] {
    batch.clear();
    PopBatch(batch);
    if (batch.empty()) return false;
    Deliver(batch);
    return true;
  };
  for (;;) {
    if (drain_once()) {
      // Under load, collect for a moment instead of waking per record.
      if (!stopping_.load(std::memory_order_seq_cst)) std::this_thread::sleep_for(kLinger);
      continue;
    }
    if (stopping_.load(std::memory_order_seq_cst)) break;
    const uint32_t seen = wakeups_.load(std::memory_order_acquire);
    idle_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (drain_once() || stopping_.load(std::memory_order_seq_cst)) {
      idle_.store(false, std::memory_order_relaxed);
      continue;
    }
    wakeups_.wait(seen, std::memory_order_acquire);
    idle_.store(false, std::memory_order_relaxed);
  }
  // Producers that passed the stopping_ check before Stop() are still
  // publishing; their records were accepted and must be delivered.
  while (active_producers_.load(std::memory_order_seq_cst) != 0) {
    if (!drain_once()) std::this_thread::yield();
  }
  while (drain_once()) {
  }
}

void InferenceLog::Stop() {
  std::lock_guard lock(stop_mu_);
  stopping_.store(true, std::memory_order_seq_cst);
  wakeups_.fetch_add(1, std::memory_order_release);
  wakeups_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ferry::monitoring
