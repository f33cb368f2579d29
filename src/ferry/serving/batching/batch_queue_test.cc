#include "ferry/serving/batching/batch_queue.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::serving::batching {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

struct ItemSpec {
  std::string id;
  int64_t rows = 1;
  uint32_t level = 0;
  int64_t deadline_us = 0;
  std::string key;
};

QueuedRequest Item(const ItemSpec& spec) {
  QueuedRequest item;
  item.request.id = spec.id;
  item.done = [](absl::StatusOr<InferResponse>) {};
  item.rows = spec.rows;
  item.level = spec.level;
  item.deadline_us = spec.deadline_us;
  item.batch_key = spec.key;
  return item;
}

std::vector<std::string> Ids(const std::vector<QueuedRequest>& items) {
  std::vector<std::string> ids;
  for (const QueuedRequest& item : items) ids.push_back(item.request.id);
  return ids;
}

BatchQueue MakeQueue(const BatcherOptions& options) {
  absl::StatusOr<BatchQueue> queue = BatchQueue::Create(options);
  EXPECT_TRUE(queue.ok()) << queue.status();
  return *std::move(queue);
}

void Add(BatchQueue& queue, const ItemSpec& spec, int64_t now_us) {
  ASSERT_TRUE(queue.Enqueue(Item(spec), now_us).ok()) << spec.id;
}

TEST(BatcherOptionsTest, RejectsBadFields) {
  EXPECT_TRUE(ValidateBatcherOptions({}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.max_batch_size = -1}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.max_batch_size = 4, .preferred_batch_sizes = {8}}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.max_batch_size = 4, .preferred_batch_sizes = {0}}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.max_batch_size = 0, .preferred_batch_sizes = {1}}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.max_queue_delay_us = -1}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.max_queue_size = -1}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.priority_levels = 0}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.priority_levels = 2, .default_priority_level = 3}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.default_timeout_us = -5}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.instances = 0}).ok());
  EXPECT_FALSE(ValidateBatcherOptions({.clock = nullptr}).ok());
  EXPECT_EQ(BatchQueue::Create({.instances = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BatchQueueTest, WaitsForTheDelayWindowOfTheOldestRequest) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .max_queue_delay_us = 100});
  Add(queue, {.id = "a"}, 1000);
  Add(queue, {.id = "b", .rows = 2}, 1050);
  EXPECT_EQ(queue.size(), 2);
  EXPECT_EQ(queue.pending_rows(), 3);

  BatchQueue::PollResult early = queue.Poll(1000);
  EXPECT_THAT(early.batch, IsEmpty());
  EXPECT_THAT(early.next_wake_us, Optional(1100));
  EXPECT_THAT(queue.Poll(1099).batch, IsEmpty());

  BatchQueue::PollResult due = queue.Poll(1100);
  EXPECT_THAT(Ids(due.batch), ElementsAre("a", "b"));
  EXPECT_EQ(due.batch[0].enqueue_us, 1000);
  EXPECT_EQ(due.next_wake_us, std::nullopt);
  EXPECT_EQ(queue.size(), 0);
  EXPECT_EQ(queue.pending_rows(), 0);
}

TEST(BatchQueueTest, ZeroDelayTakesWhatIsQueued) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .max_queue_delay_us = 0});
  EXPECT_EQ(queue.Poll(0).next_wake_us, std::nullopt);
  Add(queue, {.id = "a"}, 5);
  Add(queue, {.id = "b", .rows = 3}, 5);
  EXPECT_THAT(Ids(queue.Poll(5).batch), ElementsAre("a", "b"));
}

TEST(BatchQueueTest, FullBatchStartsBeforeTheWindowEnds) {
  BatchQueue queue = MakeQueue({.max_batch_size = 4, .max_queue_delay_us = 1'000'000});
  Add(queue, {.id = "a", .rows = 2}, 0);
  EXPECT_THAT(queue.Poll(1).batch, IsEmpty());
  Add(queue, {.id = "b", .rows = 2}, 2);
  Add(queue, {.id = "c", .rows = 1}, 3);
  BatchQueue::PollResult result = queue.Poll(3);
  EXPECT_THAT(Ids(result.batch), ElementsAre("a", "b"));
  // "c" alone waits for its own window.
  EXPECT_THAT(result.next_wake_us, Optional(1'000'003));
}

TEST(BatchQueueTest, RequestThatDoesNotFitEndsTheBatchWithoutOvertaking) {
  BatchQueue queue = MakeQueue({.max_batch_size = 4, .max_queue_delay_us = 1'000'000});
  Add(queue, {.id = "a", .rows = 3}, 0);
  Add(queue, {.id = "b", .rows = 2}, 0);
  Add(queue, {.id = "c", .rows = 1}, 0);  // would fit beside "a", but must not overtake "b"
  BatchQueue::PollResult first = queue.Poll(0);
  EXPECT_THAT(Ids(first.batch), ElementsAre("a"));
  EXPECT_THAT(first.next_wake_us, Optional(1'000'000));
  EXPECT_THAT(Ids(queue.Poll(1'000'000).batch), ElementsAre("b", "c"));
}

TEST(BatchQueueTest, NeverExceedsMaxBatchSizeAndKeepsOrder) {
  std::mt19937 rng(7);
  for (int64_t max_batch : {1, 3, 8}) {
    BatchQueue queue = MakeQueue(
        {.max_batch_size = max_batch, .preferred_batch_sizes = {}, .max_queue_delay_us = 50});
    std::uniform_int_distribution<int64_t> rows(1, max_batch);
    std::vector<std::string> sent;
    std::vector<std::string> executed;
    int64_t now = 0;
    for (int step = 0; step < 500; ++step) {
      now += static_cast<int64_t>(rng() % 20);
      if (rng() % 3 != 0) {
        std::string id = std::to_string(step);
        Add(queue, {.id = id, .rows = rows(rng)}, now);
        sent.push_back(id);
      }
      BatchQueue::PollResult result = queue.Poll(now);
      int64_t batch_rows = 0;
      for (const QueuedRequest& item : result.batch) batch_rows += item.rows;
      ASSERT_LE(batch_rows, max_batch);
      for (const QueuedRequest& item : result.batch) executed.push_back(item.request.id);
    }
    while (queue.size() > 0) {
      BatchQueue::PollResult result = queue.Flush(now);
      int64_t batch_rows = 0;
      for (const QueuedRequest& item : result.batch) batch_rows += item.rows;
      ASSERT_LE(batch_rows, max_batch);
      ASSERT_FALSE(result.batch.empty());
      for (const QueuedRequest& item : result.batch) executed.push_back(item.request.id);
    }
    EXPECT_EQ(executed, sent) << "max_batch_size " << max_batch;
  }
}

TEST(BatchQueueTest, LargestPreferredSizeStartsAtOnce) {
  BatchQueue queue =
      MakeQueue({.max_batch_size = 8, .preferred_batch_sizes = {2, 4}, .max_queue_delay_us = 100});
  Add(queue, {.id = "a"}, 0);
  Add(queue, {.id = "b"}, 0);
  // 2 is preferred but not the largest: keep waiting for 4.
  EXPECT_THAT(queue.Poll(1).batch, IsEmpty());
  Add(queue, {.id = "c"}, 2);
  EXPECT_THAT(queue.Poll(2).batch, IsEmpty());
  Add(queue, {.id = "d"}, 3);
  EXPECT_THAT(Ids(queue.Poll(3).batch), ElementsAre("a", "b", "c", "d"));
}

TEST(BatchQueueTest, WindowEndTakesTheLargestPreferredSizeThatFits) {
  BatchQueue queue =
      MakeQueue({.max_batch_size = 8, .preferred_batch_sizes = {2, 4}, .max_queue_delay_us = 100});
  Add(queue, {.id = "a"}, 10);
  Add(queue, {.id = "b"}, 10);
  Add(queue, {.id = "c"}, 10);
  BatchQueue::PollResult result = queue.Poll(110);
  EXPECT_THAT(Ids(result.batch), ElementsAre("a", "b"));
  // "c" has waited past the window too: ready now.
  EXPECT_THAT(result.next_wake_us, Optional(110));
  EXPECT_THAT(Ids(queue.Poll(110).batch), ElementsAre("c"));
}

TEST(BatchQueueTest, WindowEndTakesEverythingWhenNoPreferredSizeIsExact) {
  BatchQueue queue =
      MakeQueue({.max_batch_size = 8, .preferred_batch_sizes = {4}, .max_queue_delay_us = 100});
  Add(queue, {.id = "a"}, 0);
  Add(queue, {.id = "b", .rows = 2}, 0);
  EXPECT_THAT(queue.Poll(99).batch, IsEmpty());
  EXPECT_THAT(Ids(queue.Poll(100).batch), ElementsAre("a", "b"));
}

TEST(BatchQueueTest, PassingTheLargestPreferredSizeStartsAtOnce) {
  BatchQueue queue =
      MakeQueue({.max_batch_size = 8, .preferred_batch_sizes = {4}, .max_queue_delay_us = 100});
  Add(queue, {.id = "a", .rows = 3}, 0);
  EXPECT_THAT(queue.Poll(99).batch, IsEmpty());
  Add(queue, {.id = "b", .rows = 2}, 99);
  // 3 + 2 passes the largest preferred size (4) without hitting it: no point
  // waiting longer.
  EXPECT_THAT(Ids(queue.Poll(99).batch), ElementsAre("a", "b"));
}

TEST(BatchQueueTest, FlushIgnoresWindowAndPreferredSizes) {
  BatchQueue queue = MakeQueue(
      {.max_batch_size = 8, .preferred_batch_sizes = {2}, .max_queue_delay_us = 1'000'000});
  Add(queue, {.id = "a"}, 0);
  EXPECT_THAT(queue.Poll(0).batch, IsEmpty());
  Add(queue, {.id = "b"}, 0);
  Add(queue, {.id = "c"}, 0);
  EXPECT_THAT(Ids(queue.Flush(1).batch), ElementsAre("a", "b", "c"));
}

TEST(BatchQueueTest, FullQueueIsResourceExhaustedUntilDrained) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .max_queue_size = 2});
  Add(queue, {.id = "a"}, 0);
  Add(queue, {.id = "b"}, 0);
  QueuedRequest c = Item({.id = "c"});
  absl::Status status = queue.Enqueue(std::move(c), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "queue full (max_queue_size 2)");
  EXPECT_EQ(c.request.id, "c");  // left unmoved: the caller still answers it
  EXPECT_TRUE(static_cast<bool>(c.done));
  EXPECT_EQ(queue.size(), 2);
  EXPECT_THAT(Ids(queue.Poll(0).batch), ElementsAre("a", "b"));
  EXPECT_TRUE(queue.Enqueue(std::move(c), 1).ok());
}

TEST(BatchQueueTest, UnboundedQueue) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .max_queue_size = 0});
  for (int i = 0; i < 3000; ++i) Add(queue, {.id = std::to_string(i)}, 0);
  EXPECT_EQ(queue.size(), 3000);
}

TEST(BatchQueueTest, RejectsBadBatchSizesAndPriorities) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .priority_levels = 2});
  EXPECT_EQ(queue.Enqueue(Item({.id = "big", .rows = 9}), 0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue.Enqueue(Item({.id = "empty", .rows = 0}), 0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue.Enqueue(Item({.id = "p3", .level = 3}), 0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(queue.Enqueue(Item({.id = "max", .rows = 8}), 0).ok());
  EXPECT_EQ(queue.size(), 1);
}

TEST(BatchQueueTest, ExpiresTimedOutRequestsAndWakesForDeadlines) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .max_queue_delay_us = 1000});
  Add(queue, {.id = "a"}, 0);
  Add(queue, {.id = "t", .deadline_us = 50}, 0);
  Add(queue, {.id = "b"}, 0);
  BatchQueue::PollResult before = queue.Poll(0);
  EXPECT_THAT(before.batch, IsEmpty());
  EXPECT_THAT(before.expired, IsEmpty());
  EXPECT_THAT(before.next_wake_us, Optional(50));

  BatchQueue::PollResult at_deadline = queue.Poll(50);
  EXPECT_THAT(Ids(at_deadline.expired), ElementsAre("t"));
  EXPECT_THAT(at_deadline.batch, IsEmpty());
  EXPECT_THAT(at_deadline.next_wake_us, Optional(1000));
  EXPECT_EQ(queue.size(), 2);
  EXPECT_EQ(queue.pending_rows(), 2);

  EXPECT_THAT(Ids(queue.Poll(1000).batch), ElementsAre("a", "b"));
}

TEST(BatchQueueTest, ExpiryHappensBeforeBatching) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .max_queue_delay_us = 100});
  Add(queue, {.id = "a", .deadline_us = 500}, 0);
  Add(queue, {.id = "b", .deadline_us = 80}, 0);
  BatchQueue::PollResult result = queue.Poll(100);
  EXPECT_THAT(Ids(result.expired), ElementsAre("b"));
  EXPECT_THAT(Ids(result.batch), ElementsAre("a"));  // started before its deadline
  EXPECT_EQ(result.next_wake_us, std::nullopt);
}

TEST(BatchQueueTest, HigherPriorityLevelsGoFirstFifoWithinALevel) {
  BatchQueue queue =
      MakeQueue({.max_batch_size = 2, .max_queue_delay_us = 0, .priority_levels = 3});
  EXPECT_EQ(queue.ResolveLevel(0), 3u);  // default: the lowest level
  Add(queue, {.id = "low1"}, 0);
  Add(queue, {.id = "mid1", .level = 2}, 1);
  Add(queue, {.id = "high1", .level = 1}, 2);
  Add(queue, {.id = "mid2", .level = 2}, 3);
  Add(queue, {.id = "high2", .level = 1}, 4);
  Add(queue, {.id = "low2", .level = 3}, 5);
  BatchQueue::PollResult first = queue.Poll(5);
  EXPECT_THAT(Ids(first.batch), ElementsAre("high1", "high2"));
  EXPECT_EQ(first.batch[0].level, 1u);
  EXPECT_THAT(first.next_wake_us, Optional(5));
  EXPECT_THAT(Ids(queue.Poll(5).batch), ElementsAre("mid1", "mid2"));
  BatchQueue::PollResult last = queue.Poll(5);
  EXPECT_THAT(Ids(last.batch), ElementsAre("low1", "low2"));
  EXPECT_EQ(last.batch[0].level, 3u);  // priority 0 resolved to the default level
}

TEST(BatchQueueTest, ExplicitDefaultPriorityLevel) {
  BatchQueue queue =
      MakeQueue({.max_batch_size = 1, .priority_levels = 3, .default_priority_level = 2});
  EXPECT_EQ(queue.ResolveLevel(0), 2u);
  Add(queue, {.id = "low", .level = 3}, 0);
  Add(queue, {.id = "default"}, 1);
  EXPECT_THAT(Ids(queue.Poll(1).batch), ElementsAre("default"));
}

TEST(BatchQueueTest, DelayWindowRunsFromTheOldestRequestOfAnyLevel) {
  BatchQueue queue =
      MakeQueue({.max_batch_size = 8, .max_queue_delay_us = 100, .priority_levels = 2});
  Add(queue, {.id = "low", .level = 2}, 0);
  Add(queue, {.id = "high", .level = 1}, 90);
  EXPECT_THAT(queue.Poll(90).next_wake_us, Optional(100));
  EXPECT_THAT(Ids(queue.Poll(100).batch), ElementsAre("high", "low"));
}

TEST(BatchQueueTest, DifferentBatchKeysAreNotBatchedTogether) {
  BatchQueue queue = MakeQueue({.max_batch_size = 8, .max_queue_delay_us = 1000});
  Add(queue, {.id = "x1", .key = "x"}, 0);
  Add(queue, {.id = "x2", .key = "x"}, 0);
  Add(queue, {.id = "y1", .key = "y"}, 0);
  Add(queue, {.id = "x3", .key = "x"}, 0);
  // The run is cut by "y1": waiting cannot grow it, so it starts now.
  EXPECT_THAT(Ids(queue.Poll(0).batch), ElementsAre("x1", "x2"));
  EXPECT_THAT(Ids(queue.Poll(0).batch), ElementsAre("y1"));
  EXPECT_THAT(queue.Poll(0).batch, IsEmpty());
  EXPECT_THAT(Ids(queue.Poll(1000).batch), ElementsAre("x3"));
}

TEST(BatchQueueTest, NonBatchingModelRunsEachRequestAloneWithoutDelay) {
  BatchQueue queue = MakeQueue({.max_batch_size = 0, .max_queue_delay_us = 1000});
  Add(queue, {.id = "a", .rows = 5}, 0);  // rows are not limited without batching
  Add(queue, {.id = "b"}, 0);
  BatchQueue::PollResult first = queue.Poll(0);
  EXPECT_THAT(Ids(first.batch), ElementsAre("a"));
  EXPECT_THAT(first.next_wake_us, Optional(0));
  EXPECT_THAT(Ids(queue.Poll(0).batch), ElementsAre("b"));
}

}  // namespace
}  // namespace ferry::serving::batching
