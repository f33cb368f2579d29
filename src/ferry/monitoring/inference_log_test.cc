#include "ferry/monitoring/inference_log.h"

#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::monitoring {
namespace {

using ::testing::ElementsAre;

InferenceRecord Record(std::string id) {
  InferenceRecord record;
  record.id = std::move(id);
  record.model = "iris";
  record.version = "1";
  record.route = "primary";
  record.ok = true;
  serving::Tensor input;
  input.name = "x";
  input.shape = {1};
  input.data = std::string(4, '\0');
  record.inputs.push_back(std::move(input));
  return record;
}

std::unique_ptr<InferenceLog> MakeLog(InferenceLogOptions options) {
  auto log = InferenceLog::Create(options);
  EXPECT_TRUE(log.ok()) << log.status();
  return *std::move(log);
}

// Collects delivered ids; thread-safe.
class Collected {
 public:
  InferenceLog::Subscriber Subscriber() {
    return [this](const std::vector<InferenceRecord>& batch) {
      std::lock_guard lock(mu_);
      for (const InferenceRecord& record : batch) ids_.push_back(record.id);
      ++batches_;
    };
  }
  std::vector<std::string> ids() const {
    std::lock_guard lock(mu_);
    return ids_;
  }
  int batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> ids_;
  int batches_ = 0;
};

TEST(InferenceLogTest, CreateRejectsZeroSizes) {
  EXPECT_EQ(InferenceLog::Create({.capacity = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InferenceLog::Create({.max_batch = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InferenceLogTest, DeliversInOrderInBatchesToEverySubscriber) {
  auto log = MakeLog({.capacity = 1000, .max_batch = 7});
  Collected first;
  Collected second;
  log->Subscribe(first.Subscriber());
  log->Subscribe(second.Subscriber());
  std::vector<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    expected.push_back(absl::StrCat("r", i));
    ASSERT_TRUE(log->TryPush(Record(expected.back())));
  }
  log->Stop();
  EXPECT_EQ(first.ids(), expected);
  EXPECT_EQ(second.ids(), expected);
  EXPECT_GE(first.batches(), 500 / 7);  // never more than max_batch per call
  EXPECT_EQ(log->delivered(), 500);
  EXPECT_EQ(log->dropped(), 0);
}

TEST(InferenceLogTest, DropsAndCountsWhenFullWhileConsumerIsBlocked) {
  auto log = MakeLog({.capacity = 4});
  std::latch entered(1);
  std::latch release(1);
  std::vector<std::string> ids;  // written by the consumer thread only, read after Stop()
  bool first_call = true;
  log->Subscribe([&](const std::vector<InferenceRecord>& batch) {
    for (const InferenceRecord& record : batch) ids.push_back(record.id);
    if (first_call) {
      first_call = false;
      entered.count_down();
      release.wait();
    }
  });

  ASSERT_TRUE(log->TryPush(Record("r0")));
  entered.wait();  // the consumer holds r0 and is stuck in the subscriber
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(log->TryPush(Record(absl::StrCat("r", i)))) << i;
  for (int i = 5; i <= 7; ++i) EXPECT_FALSE(log->TryPush(Record(absl::StrCat("r", i)))) << i;
  EXPECT_EQ(log->dropped(), 3);
  EXPECT_EQ(log->delivered(), 0);

  release.count_down();
  log->Stop();
  EXPECT_THAT(ids, ElementsAre("r0", "r1", "r2", "r3", "r4"));
  EXPECT_EQ(log->delivered(), 5);
  EXPECT_EQ(log->dropped(), 3);
}

TEST(InferenceLogTest, StopDrainsAcceptedRecordsThenRejects) {
  auto log = MakeLog({.capacity = 100, .max_batch = 2});
  std::latch entered(1);
  std::latch release(1);
  Collected collected;
  bool first_call = true;
  InferenceLog::Subscriber collect = collected.Subscriber();
  log->Subscribe([&](const std::vector<InferenceRecord>& batch) {
    collect(batch);
    if (first_call) {
      first_call = false;
      entered.count_down();
      release.wait();
    }
  });
  ASSERT_TRUE(log->TryPush(Record("r0")));
  entered.wait();
  for (int i = 1; i < 10; ++i) ASSERT_TRUE(log->TryPush(Record(absl::StrCat("r", i))));

  // Stop() on another thread is stuck behind the blocked subscriber; the
  // nine queued records must still be delivered once it is released.
  std::thread stopper([&] { log->Stop(); });
  release.count_down();
  stopper.join();
  EXPECT_EQ(log->delivered(), 10);
  EXPECT_EQ(collected.ids().size(), 10u);
  EXPECT_EQ(collected.ids().back(), "r9");

  EXPECT_FALSE(log->TryPush(Record("late")));
  EXPECT_EQ(log->dropped(), 1);
  log->Stop();  // idempotent
  EXPECT_EQ(log->delivered(), 10);
}

TEST(InferenceLogTest, ConcurrentProducersKeepPerProducerOrderAndExactCounts) {
  auto log = MakeLog({.capacity = 64, .max_batch = 16});
  Collected collected;
  log->Subscribe(collected.Subscriber());
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 5000;
  std::vector<int> accepted(kProducers, 0);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        if (log->TryPush(Record(absl::StrCat(p, ":", i)))) ++accepted[p];
      }
    });
  }
  for (std::thread& producer : producers) producer.join();
  log->Stop();

  int total_accepted = 0;
  for (int count : accepted) total_accepted += count;
  EXPECT_EQ(log->delivered(), total_accepted);
  EXPECT_EQ(log->dropped(), kProducers * kPerProducer - total_accepted);

  std::vector<int> last(kProducers, -1);
  std::vector<int> seen(kProducers, 0);
  for (const std::string& id : collected.ids()) {
    size_t colon = id.find(':');
    int producer = std::stoi(id.substr(0, colon));
    int sequence = std::stoi(id.substr(colon + 1));
    ASSERT_GT(sequence, last[producer]) << id;
    last[producer] = sequence;
    ++seen[producer];
  }
  EXPECT_EQ(seen, accepted);
}

TEST(InferenceLogTest, DestructorStopsAndDelivers) {
  Collected collected;
  {
    auto log = MakeLog({});
    log->Subscribe(collected.Subscriber());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(log->TryPush(Record(absl::StrCat(i))));
  }
  EXPECT_EQ(collected.ids().size(), 20u);
}

}  // namespace
}  // namespace ferry::monitoring
