#include "ferry/serving/batching/dynamic_batcher.h"

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::serving::batching {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

Tensor Fp32(std::string name, std::vector<int64_t> shape, const std::vector<float>& values) {
  Tensor tensor;
  tensor.name = std::move(name);
  tensor.datatype = DataType::kFp32;
  tensor.shape = std::move(shape);
  tensor.data.resize(values.size() * sizeof(float));
  std::memcpy(tensor.data.data(), values.data(), tensor.data.size());
  return tensor;
}

std::vector<float> Floats(const Tensor& tensor) {
  std::span<const float> values = tensor.Values<float>();
  return {values.begin(), values.end()};
}

// A request with input "x" of shape [rows, 2] holding base, base+1, ...
InferRequest Request(std::string id, int64_t rows, float base,
                     std::vector<std::string> outputs = {}) {
  InferRequest request;
  request.id = std::move(id);
  std::vector<float> values;
  for (int64_t i = 0; i < rows * 2; ++i) values.push_back(base + static_cast<float>(i));
  request.inputs.push_back(Fp32("x", {rows, 2}, values));
  for (std::string& name : outputs) request.outputs.push_back({.name = std::move(name)});
  return request;
}

// The model: y = 2x and z = x + 1, each only when asked for (all when none
// are). Records every call's batch rows and requested output names.
class DoublingModel {
 public:
  absl::StatusOr<std::vector<Tensor>> operator()(std::span<const Tensor> inputs,
                                                 std::span<const RequestedOutput> outputs) {
    std::vector<std::string> asked;
    for (const RequestedOutput& output : outputs) asked.push_back(output.name);
    {
      std::lock_guard<std::mutex> lock(mu_);
      rows_.push_back(inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0]);
      asked_.push_back(asked);
    }
    const Tensor& x = inputs[0];
    std::vector<float> doubled;
    std::vector<float> plus_one;
    for (float v : Floats(x)) {
      doubled.push_back(2 * v);
      plus_one.push_back(v + 1);
    }
    auto wanted = [&](const std::string& name) {
      return asked.empty() || std::find(asked.begin(), asked.end(), name) != asked.end();
    };
    std::vector<Tensor> result;
    if (wanted("y")) result.push_back(Fp32("y", x.shape, doubled));
    if (wanted("z")) result.push_back(Fp32("z", x.shape, plus_one));
    return result;
  }

  std::vector<int64_t> rows() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rows_;
  }
  std::vector<std::vector<std::string>> asked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return asked_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<int64_t> rows_;
  std::vector<std::vector<std::string>> asked_;
};

// Holds every execute call inside Pass() until Open(); lets a test build a
// queue behind a running batch without sleeping.
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void WaitEntered(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= count; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

// Collects callback results by request id.
class Answers {
 public:
  InferCallback For(std::string id) {
    return [this, id = std::move(id)](absl::StatusOr<InferResponse> result) {
      std::lock_guard<std::mutex> lock(mu_);
      EXPECT_EQ(results_.count(id), 0u) << "answered twice: " << id;
      results_.emplace(id, std::move(result));
      order_.push_back(id);
      cv_.notify_all();
    };
  }
  void WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return results_.size() >= count; });
  }
  absl::StatusOr<InferResponse> Get(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = results_.find(id);
    if (it == results_.end()) return absl::NotFoundError("no answer for " + id);
    return it->second;
  }
  bool Has(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return results_.count(id) > 0;
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, absl::StatusOr<InferResponse>> results_;
  std::vector<std::string> order_;
};

std::unique_ptr<DynamicBatcher> MakeBatcher(const BatcherOptions& options,
                                            DynamicBatcher::ExecuteFn execute) {
  absl::StatusOr<std::unique_ptr<DynamicBatcher>> batcher =
      DynamicBatcher::Create(options, std::move(execute));
  EXPECT_TRUE(batcher.ok()) << batcher.status();
  return batcher.ok() ? *std::move(batcher) : nullptr;
}

const Tensor* Output(const InferResponse& response, const std::string& name) {
  for (const Tensor& output : response.outputs) {
    if (output.name == name) return &output;
  }
  return nullptr;
}

TEST(DynamicBatcherTest, CreateRejectsBadOptionsAndMissingExecute) {
  DoublingModel model;
  EXPECT_EQ(DynamicBatcher::Create({.instances = 0}, std::ref(model)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DynamicBatcher::Create({}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DynamicBatcherTest, ConcurrentRequestsGetTheirOwnSlices) {
  DoublingModel model;
  auto batcher = MakeBatcher({.max_batch_size = 8, .max_queue_delay_us = 200, .instances = 3},
                             std::ref(model));
  Answers answers;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        batcher->Enqueue(Request(std::to_string(n), 1 + n % 3, static_cast<float>(n * 10)),
                         answers.For(std::to_string(n)));
      }
    });
  }
  for (std::thread& client : clients) client.join();
  answers.WaitFor(kThreads * kPerThread);

  int64_t total_rows = 0;
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    const std::string id = std::to_string(n);
    const int64_t rows = 1 + n % 3;
    total_rows += rows;
    absl::StatusOr<InferResponse> response = answers.Get(id);
    ASSERT_TRUE(response.ok()) << id << ": " << response.status();
    EXPECT_EQ(response->id, id);
    EXPECT_EQ(response->model_name, "");
    const Tensor* y = Output(*response, "y");
    ASSERT_NE(y, nullptr);
    EXPECT_EQ(y->shape, (std::vector<int64_t>{rows, 2}));
    std::vector<float> expected;
    for (int64_t i = 0; i < rows * 2; ++i) expected.push_back(2 * (n * 10.0f + i));
    EXPECT_EQ(Floats(*y), expected) << id;
    ASSERT_NE(Output(*response, "z"), nullptr);
  }
  EXPECT_EQ(batcher->pending(), 0);
  BatcherStats stats = batcher->Stats();
  EXPECT_EQ(stats.success_count, kThreads * kPerThread);
  EXPECT_EQ(stats.inference_count, total_rows);
  EXPECT_TRUE(stats.failure_count.empty());
  int64_t executions = 0;
  for (const auto& [size, count] : stats.batch_size_count) {
    EXPECT_LE(size, 8);
    executions += count;
  }
  EXPECT_EQ(executions, stats.execution_count);
  for (int64_t rows : model.rows()) EXPECT_LE(rows, 8);
}

TEST(DynamicBatcherTest, QueueBuiltBehindASlowBatchExecutesAsOneBatch) {
  DoublingModel model;
  Gate gate;
  auto batcher = MakeBatcher({.max_batch_size = 8, .max_queue_delay_us = 0},
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  batcher->Enqueue(Request("first", 1, 0), answers.For("first"));
  gate.WaitEntered(1);
  for (int i = 0; i < 6; ++i) {
    batcher->Enqueue(Request("r" + std::to_string(i), 1, static_cast<float>(100 * i)),
                     answers.For("r" + std::to_string(i)));
  }
  EXPECT_EQ(batcher->pending(), 7);
  gate.Open();
  answers.WaitFor(7);
  EXPECT_THAT(model.rows(), ElementsAre(1, 6));
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<InferResponse> response = answers.Get("r" + std::to_string(i));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(Floats(*Output(*response, "y")), (std::vector<float>{200.0f * i, 200.0f * i + 2}));
  }
  EXPECT_THAT(batcher->Stats().batch_size_count, ElementsAre(Pair(1, 1), Pair(6, 1)));
}

TEST(DynamicBatcherTest, BatchAsksForTheUnionAndEachResponseKeepsItsOwnOutputs) {
  DoublingModel model;
  Gate gate;
  auto batcher = MakeBatcher({.max_batch_size = 8},
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  batcher->Enqueue(Request("hold", 1, 0), answers.For("hold"));
  gate.WaitEntered(1);
  batcher->Enqueue(Request("wants_y", 1, 1, {"y"}), answers.For("wants_y"));
  batcher->Enqueue(Request("wants_z", 2, 5, {"z"}), answers.For("wants_z"));
  gate.Open();
  answers.WaitFor(3);
  ASSERT_EQ(model.asked().size(), 2u);
  EXPECT_THAT(model.asked()[1], UnorderedElementsAre("y", "z"));

  absl::StatusOr<InferResponse> y_only = answers.Get("wants_y");
  ASSERT_TRUE(y_only.ok()) << y_only.status();
  ASSERT_EQ(y_only->outputs.size(), 1u);
  EXPECT_EQ(Floats(y_only->outputs[0]), (std::vector<float>{2, 4}));

  absl::StatusOr<InferResponse> z_only = answers.Get("wants_z");
  ASSERT_TRUE(z_only.ok()) << z_only.status();
  ASSERT_EQ(z_only->outputs.size(), 1u);
  EXPECT_EQ(z_only->outputs[0].name, "z");
  EXPECT_EQ(z_only->outputs[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Floats(z_only->outputs[0]), (std::vector<float>{6, 7, 8, 9}));
}

TEST(DynamicBatcherTest, RequestsWithDifferentSignaturesExecuteSeparately) {
  DoublingModel model;
  Gate gate;
  auto batcher = MakeBatcher({.max_batch_size = 8},
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  batcher->Enqueue(Request("hold", 1, 0), answers.For("hold"));
  gate.WaitEntered(1);
  InferRequest wide;
  wide.id = "wide";
  wide.inputs.push_back(Fp32("x", {1, 3}, {1, 2, 3}));
  batcher->Enqueue(Request("a", 1, 0), answers.For("a"));
  batcher->Enqueue(std::move(wide), answers.For("wide"));
  batcher->Enqueue(Request("b", 1, 0), answers.For("b"));
  gate.Open();
  answers.WaitFor(4);
  EXPECT_THAT(model.rows(), ElementsAre(1, 1, 1, 1));
  absl::StatusOr<InferResponse> response = answers.Get("wide");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Floats(*Output(*response, "y")), (std::vector<float>{2, 4, 6}));
}

TEST(DynamicBatcherTest, HigherPriorityRunsFirst) {
  DoublingModel model;
  Gate gate;
  auto batcher = MakeBatcher({.max_batch_size = 1, .priority_levels = 2},
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  batcher->Enqueue(Request("hold", 1, 0), answers.For("hold"));
  gate.WaitEntered(1);
  batcher->Enqueue(Request("unprioritised", 1, 0), answers.For("unprioritised"));
  InferRequest urgent = Request("urgent", 1, 0);
  urgent.priority = 1;
  batcher->Enqueue(std::move(urgent), answers.For("urgent"));
  InferRequest bad = Request("bad_priority", 1, 0);
  bad.priority = 3;
  batcher->Enqueue(std::move(bad), answers.For("bad_priority"));
  EXPECT_EQ(answers.Get("bad_priority").status().code(), absl::StatusCode::kInvalidArgument);
  gate.Open();
  answers.WaitFor(4);
  EXPECT_THAT(answers.order(), ElementsAre("bad_priority", "hold", "urgent", "unprioritised"));
}

TEST(DynamicBatcherTest, StopDrainsQueuedRequestsThenRefusesNewOnes) {
  DoublingModel model;
  // A window far longer than the test: only Stop() can start these batches.
  auto batcher =
      MakeBatcher({.max_batch_size = 8, .max_queue_delay_us = 3'600'000'000}, std::ref(model));
  Answers answers;
  for (int i = 0; i < 5; ++i) {
    batcher->Enqueue(Request(std::to_string(i), 1, 0), answers.For(std::to_string(i)));
  }
  batcher->Stop();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(answers.Get(std::to_string(i)).ok()) << i;
  EXPECT_EQ(batcher->pending(), 0);

  batcher->Enqueue(Request("late", 1, 0), answers.For("late"));
  absl::StatusOr<InferResponse> late = answers.Get("late");
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(late.status().message(), "draining");
  batcher->Stop();  // idempotent
  BatcherStats stats = batcher->Stats();
  EXPECT_EQ(stats.success_count, 5);
  EXPECT_THAT(stats.failure_count, ElementsAre(Pair("draining", 1)));
}

TEST(DynamicBatcherTest, ExecuteErrorReachesEveryRequestOfTheBatch) {
  Gate gate;
  auto batcher =
      MakeBatcher({.max_batch_size = 8},
                  [&](std::span<const Tensor>,
                      std::span<const RequestedOutput>) -> absl::StatusOr<std::vector<Tensor>> {
                    gate.Pass();
                    return absl::InternalError("model exploded");
                  });
  Answers answers;
  batcher->Enqueue(Request("a", 1, 0), answers.For("a"));
  gate.WaitEntered(1);
  batcher->Enqueue(Request("b", 2, 0), answers.For("b"));
  batcher->Enqueue(Request("c", 1, 0), answers.For("c"));
  gate.Open();
  answers.WaitFor(3);
  for (const char* id : {"a", "b", "c"}) {
    absl::Status status = answers.Get(id).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << id;
    EXPECT_EQ(status.message(), "model exploded");
  }
  BatcherStats stats = batcher->Stats();
  EXPECT_EQ(stats.success_count, 0);
  EXPECT_EQ(stats.execution_count, 2);
  EXPECT_THAT(stats.failure_count, ElementsAre(Pair("backend", 3)));
}

TEST(DynamicBatcherTest, OutputsThatCannotBeSplitFailTheBatch) {
  Gate gate;
  auto batcher =
      MakeBatcher({.max_batch_size = 8},
                  [&](std::span<const Tensor>,
                      std::span<const RequestedOutput>) -> absl::StatusOr<std::vector<Tensor>> {
                    gate.Pass();
                    return std::vector<Tensor>{Fp32("y", {1}, {1})};  // one row whatever the batch
                  });
  Answers answers;
  batcher->Enqueue(Request("a", 1, 0), answers.For("a"));
  gate.WaitEntered(1);
  batcher->Enqueue(Request("b", 1, 0), answers.For("b"));
  batcher->Enqueue(Request("c", 1, 0), answers.For("c"));
  gate.Open();
  answers.WaitFor(3);
  EXPECT_TRUE(answers.Get("a").ok());
  EXPECT_EQ(answers.Get("b").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(answers.Get("c").status().code(), absl::StatusCode::kInternal);
}

TEST(DynamicBatcherTest, FullQueueAnswersUnavailableAtOnce) {
  DoublingModel model;
  Gate gate;
  auto batcher = MakeBatcher({.max_batch_size = 8, .max_queue_size = 1},
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  batcher->Enqueue(Request("running", 1, 0), answers.For("running"));
  gate.WaitEntered(1);
  batcher->Enqueue(Request("queued", 1, 0), answers.For("queued"));
  batcher->Enqueue(Request("rejected", 1, 0), answers.For("rejected"));
  // Answered before Enqueue returned.
  ASSERT_TRUE(answers.Has("rejected"));
  absl::Status status = answers.Get("rejected").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "queue full (max_queue_size 1)");
  auto retry_after = status.GetPayload(kRetryAfterMsPayload);
  ASSERT_TRUE(retry_after.has_value());
  EXPECT_EQ(std::string(*retry_after), "1000");  // nothing has finished executing yet
  EXPECT_EQ(batcher->pending(), 2);
  gate.Open();
  answers.WaitFor(3);
  EXPECT_TRUE(answers.Get("running").ok());
  EXPECT_TRUE(answers.Get("queued").ok());
  EXPECT_THAT(batcher->Stats().failure_count, ElementsAre(Pair("rejected", 1)));
}

TEST(DynamicBatcherTest, RejectsInvalidBatchSizes) {
  DoublingModel model;
  auto batcher = MakeBatcher({.max_batch_size = 4}, std::ref(model));
  Answers answers;
  batcher->Enqueue(Request("too_big", 5, 0), answers.For("too_big"));
  InferRequest ragged = Request("ragged", 2, 0);
  ragged.inputs.push_back(Fp32("w", {3, 1}, {1, 2, 3}));
  batcher->Enqueue(std::move(ragged), answers.For("ragged"));
  InferRequest scalar;
  scalar.id = "scalar";
  scalar.inputs.push_back(Fp32("x", {}, {1}));
  batcher->Enqueue(std::move(scalar), answers.For("scalar"));
  for (const char* id : {"too_big", "ragged", "scalar"}) {
    ASSERT_TRUE(answers.Has(id)) << id;
    EXPECT_EQ(answers.Get(id).status().code(), absl::StatusCode::kInvalidArgument) << id;
  }
  EXPECT_THAT(batcher->Stats().failure_count, ElementsAre(Pair("invalid", 3)));
}

TEST(DynamicBatcherTest, NonBatchingModelGetsUnbatchedRequestsOneAtATime) {
  DoublingModel model;
  Gate gate;
  auto batcher = MakeBatcher({.max_batch_size = 0},
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  for (int i = 0; i < 3; ++i) {
    InferRequest request;
    request.id = std::to_string(i);
    request.inputs.push_back(Fp32("x", {3}, {1, 2, static_cast<float>(i)}));
    InferCallback done = answers.For(request.id);
    batcher->Enqueue(std::move(request), std::move(done));
  }
  gate.Open();
  answers.WaitFor(3);
  EXPECT_EQ(model.rows().size(), 3u);
  absl::StatusOr<InferResponse> response = answers.Get("2");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Output(*response, "y")->shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(Floats(*Output(*response, "y")), (std::vector<float>{2, 4, 4}));
  EXPECT_EQ(batcher->Stats().inference_count, 3);
}

// With a FakeClock the queue and compute times are exact, and a timeout
// expires only when the test moves time.
TEST(DynamicBatcherTest, FakeClockTimeoutsAndStatistics) {
  FakeClock clock;
  DoublingModel model;
  Gate gate;
  auto batcher = MakeBatcher({.max_batch_size = 8, .default_timeout_us = 1000, .clock = &clock},
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  batcher->Enqueue(Request("running", 1, 0), answers.For("running"));
  gate.WaitEntered(1);
  InferRequest short_timeout = Request("short", 1, 0);
  short_timeout.timeout_us = 100;
  batcher->Enqueue(std::move(short_timeout), answers.For("short"));
  batcher->Enqueue(Request("default_timeout", 1, 0), answers.For("default_timeout"));
  clock.AdvanceMicros(300);
  gate.Open();
  answers.WaitFor(3);

  absl::Status expired = answers.Get("short").status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(expired.message(), "request timeout expired");
  EXPECT_TRUE(answers.Get("running").ok());
  EXPECT_TRUE(answers.Get("default_timeout").ok());  // 300 us < its 1000 us default

  BatcherStats stats = batcher->Stats();
  EXPECT_EQ(stats.success_count, 2);
  EXPECT_THAT(stats.failure_count, ElementsAre(Pair("timeout", 1)));
  EXPECT_EQ(stats.execution_count, 2);
  EXPECT_EQ(stats.queue_us_total, 300);    // "default_timeout" waited 300 us, "running" 0
  EXPECT_EQ(stats.compute_us_total, 300);  // the clock moved during the first execute
}

}  // namespace
}  // namespace ferry::serving::batching

namespace ferry::serving::batching {
namespace {

TEST(DynamicBatcherInlineTest, IdleInstanceExecutesOnTheCallerAndLoadStillBatches) {
  std::mutex mu;
  std::vector<std::thread::id> threads;
  Gate gate;
  std::atomic<bool> hold{false};
  DoublingModel model;
  auto execute = [&](std::span<const Tensor> inputs, std::span<const RequestedOutput> outputs) {
    {
      std::lock_guard<std::mutex> lock(mu);
      threads.push_back(std::this_thread::get_id());
    }
    if (hold.load()) gate.Pass();
    return model(inputs, outputs);
  };
  auto batcher = MakeBatcher({.max_batch_size = 8,
                              .max_queue_delay_us = 0,
                              .instances = 1,
                              .execute_inline_when_idle = true},
                             execute);
  // Idle: answered on this thread before Enqueue returns.
  bool answered = false;
  batcher->Enqueue(Request("a", 1, 1), [&](absl::StatusOr<InferResponse> r) { answered = r.ok(); });
  EXPECT_TRUE(answered);
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads[0], std::this_thread::get_id());
  // Busy (another caller holds the only instance inline): later requests
  // queue and are batched once the instance frees up (the caller holding it
  // drains them; see DynamicBatcherInlineDrainTest).
  hold = true;
  Answers answers;
  std::thread first([&] { batcher->Enqueue(Request("b", 1, 2), answers.For("b")); });
  gate.WaitEntered(1);
  hold = false;
  for (int i = 0; i < 4; ++i)
    batcher->Enqueue(Request("q" + std::to_string(i), 1, 3), answers.For("q" + std::to_string(i)));
  gate.Open();
  first.join();
  answers.WaitFor(5);
  EXPECT_EQ(model.rows().back(), 4);  // the four queued requests ran as one batch
  EXPECT_EQ(batcher->pending(), 0);
}

}  // namespace
}  // namespace ferry::serving::batching

namespace ferry::serving::batching {
namespace {

// Records every execute call: the thread it ran on and each row's first
// value (the `base` Request() was given), in execution order.
class CallLog {
 public:
  struct Call {
    std::thread::id thread;
    std::vector<float> bases;
  };
  // Returns the call's index (0 for the first call).
  int Record(std::span<const Tensor> inputs) {
    Call call{.thread = std::this_thread::get_id()};
    std::vector<float> values = Floats(inputs[0]);
    for (size_t i = 0; i < values.size(); i += 2) call.bases.push_back(values[i]);
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(call));
    return static_cast<int>(calls_.size()) - 1;
  }
  std::vector<Call> Calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

BatcherOptions InlineOptions(int64_t max_batch_size, int instances) {
  return {.max_batch_size = max_batch_size,
          .max_queue_delay_us = 0,
          .max_queue_size = 0,
          .instances = instances,
          .execute_inline_when_idle = true};
}

TEST(DynamicBatcherInlineDrainTest, RequestsQueuedBehindAnInlineExecutionRunOnTheSameThread) {
  CallLog log;
  Gate gate;
  DoublingModel model;
  auto batcher = MakeBatcher(InlineOptions(/*max_batch_size=*/8, /*instances=*/1),
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               if (log.Record(in) == 0) gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  std::thread caller([&] { batcher->Enqueue(Request("first", 1, 0), answers.For("first")); });
  const std::thread::id caller_id = caller.get_id();
  gate.WaitEntered(1);
  // The only instance is held by `caller`: these queue, and nobody is woken.
  std::vector<std::string> ids = {"first"};
  for (int i = 0; i < 6; ++i) {
    ids.push_back("q" + std::to_string(i));
    batcher->Enqueue(Request(ids.back(), 1, static_cast<float>(10 * (i + 1))),
                     answers.For(ids.back()));
  }
  EXPECT_EQ(batcher->pending(), 7);
  gate.Open();
  caller.join();

  // The caller's Enqueue returned only after draining the queue.
  for (const std::string& id : ids) EXPECT_TRUE(answers.Has(id)) << id;
  EXPECT_EQ(answers.order(), ids);  // FIFO
  std::vector<CallLog::Call> calls = log.Calls();
  ASSERT_EQ(calls.size(), 2u);  // the six queued requests ran as one batch
  EXPECT_THAT(calls[0].bases, ElementsAre(0));
  EXPECT_THAT(calls[1].bases, ElementsAre(10, 20, 30, 40, 50, 60));
  for (const CallLog::Call& call : calls) EXPECT_EQ(call.thread, caller_id);
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<InferResponse> response = answers.Get("q" + std::to_string(i));
    ASSERT_TRUE(response.ok()) << response.status();
    const float base = 10.0f * (i + 1);
    EXPECT_EQ(Floats(*Output(*response, "y")), (std::vector<float>{2 * base, 2 * base + 2}));
  }
  EXPECT_EQ(batcher->pending(), 0);
  BatcherStats stats = batcher->Stats();
  EXPECT_EQ(stats.success_count, 7);
  EXPECT_THAT(stats.batch_size_count, ElementsAre(Pair(1, 1), Pair(6, 1)));
}

TEST(DynamicBatcherInlineDrainTest, DrainStopsAfterTheRoundBoundAndAWorkerTakesTheRest) {
  constexpr int kRounds = DynamicBatcher::kMaxInlineRounds;
  constexpr int kQueued = kRounds + 3;
  CallLog log;
  Gate gate;
  DoublingModel model;
  // max_batch_size 1: every request is a batch (a round) of its own.
  auto batcher = MakeBatcher(InlineOptions(/*max_batch_size=*/1, /*instances=*/1),
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               if (log.Record(in) == 0) gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  std::thread caller([&] { batcher->Enqueue(Request("r0", 1, 0), answers.For("r0")); });
  const std::thread::id caller_id = caller.get_id();
  gate.WaitEntered(1);
  for (int i = 1; i <= kQueued; ++i) {
    batcher->Enqueue(Request("r" + std::to_string(i), 1, static_cast<float>(i)),
                     answers.For("r" + std::to_string(i)));
  }
  gate.Open();
  caller.join();
  // The caller executed exactly kRounds batches before returning.
  for (int i = 0; i < kRounds; ++i) EXPECT_TRUE(answers.Has("r" + std::to_string(i))) << i;
  answers.WaitFor(kQueued + 1);

  std::vector<CallLog::Call> calls = log.Calls();
  ASSERT_EQ(calls.size(), static_cast<size_t>(kQueued + 1));
  const std::thread::id worker_id = calls[kRounds].thread;
  EXPECT_NE(worker_id, caller_id);
  EXPECT_NE(worker_id, std::this_thread::get_id());
  for (int i = 0; i <= kQueued; ++i) {
    // One instance: executions are serial, in FIFO order.
    EXPECT_THAT(calls[i].bases, ElementsAre(static_cast<float>(i))) << i;
    EXPECT_EQ(calls[i].thread, i < kRounds ? caller_id : worker_id) << i;
  }
  EXPECT_EQ(batcher->pending(), 0);
  EXPECT_EQ(batcher->Stats().success_count, kQueued + 1);
}

TEST(DynamicBatcherInlineDrainTest, DrainFailsRequestsThatExpiredWhileQueued) {
  FakeClock clock;
  Gate gate;
  DoublingModel model;
  std::atomic<int> calls{0};
  BatcherOptions options = InlineOptions(/*max_batch_size=*/8, /*instances=*/1);
  options.clock = &clock;
  auto batcher =
      MakeBatcher(options, [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
        if (calls.fetch_add(1) == 0) gate.Pass();
        return model(in, out);
      });
  Answers answers;
  std::thread caller([&] { batcher->Enqueue(Request("first", 1, 0), answers.For("first")); });
  gate.WaitEntered(1);
  InferRequest short_timeout = Request("short", 1, 1);
  short_timeout.timeout_us = 100;
  batcher->Enqueue(std::move(short_timeout), answers.For("short"));
  batcher->Enqueue(Request("patient", 1, 2), answers.For("patient"));
  clock.AdvanceMicros(300);
  gate.Open();
  caller.join();
  // The caller's next poll expired "short" and executed "patient".
  EXPECT_EQ(answers.Get("short").status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(answers.Get("patient").ok());
  EXPECT_TRUE(answers.Get("first").ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(batcher->pending(), 0);
  BatcherStats stats = batcher->Stats();
  EXPECT_EQ(stats.success_count, 2);
  EXPECT_THAT(stats.failure_count, ElementsAre(Pair("timeout", 1)));
  EXPECT_EQ(stats.queue_us_total, 300);  // "patient" waited 300 us
}

// Counts answers per request from many threads; Wait() blocks until `total`
// requests have been answered at least once.
class AnswerCounter {
 public:
  explicit AnswerCounter(int total) : calls_(total) {}
  InferCallback For(int n, float base) {
    return [this, n, base](absl::StatusOr<InferResponse> result) {
      calls_[n].fetch_add(1);
      if (result.ok()) {
        const Tensor* y = Output(*result, "y");
        if (y == nullptr || Floats(*y).front() != 2 * base) wrong_.fetch_add(1);
        ok_.fetch_add(1);
      } else if (result.status().code() == absl::StatusCode::kUnavailable &&
                 result.status().message() == "draining") {
        draining_.fetch_add(1);
      } else {
        wrong_.fetch_add(1);
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++answered_;
      cv_.notify_all();
    };
  }
  void WaitAnswered(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return answered_ >= count; });
  }
  // Requests answered other than exactly once.
  int NotAnsweredOnce() const {
    int bad = 0;
    for (const std::atomic<int>& calls : calls_) bad += calls.load() != 1;
    return bad;
  }
  int ok() const { return ok_.load(); }
  int draining() const { return draining_.load(); }
  int wrong() const { return wrong_.load(); }

 private:
  std::vector<std::atomic<int>> calls_;
  std::atomic<int> ok_{0};
  std::atomic<int> draining_{0};
  std::atomic<int> wrong_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int answered_ = 0;
};

TEST(DynamicBatcherInlineDrainTest, StressEveryRequestAnsweredOnceAndStatsAddUp) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  constexpr int kTotal = kThreads * kPerThread;
  for (int instances : {1, 2}) {
    SCOPED_TRACE(testing::Message() << "instances " << instances);
    DoublingModel model;
    std::atomic<int> running{0};
    std::atomic<int> most_running{0};
    auto batcher =
        MakeBatcher(InlineOptions(/*max_batch_size=*/8, instances),
                    [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                      const int now = running.fetch_add(1) + 1;
                      int seen = most_running.load();
                      while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
                      }
                      auto result = model(in, out);
                      running.fetch_sub(1);
                      return result;
                    });
    AnswerCounter counter(kTotal);
    std::latch start(kThreads);
    std::vector<std::thread> clients;
    int64_t total_rows = 0;
    for (int n = 0; n < kTotal; ++n) total_rows += 1 + n % 3;
    for (int t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < kPerThread; ++i) {
          const int n = t * kPerThread + i;
          const float base = static_cast<float>(n * 10);
          batcher->Enqueue(Request(std::to_string(n), 1 + n % 3, base), counter.For(n, base));
        }
      });
    }
    for (std::thread& client : clients) client.join();
    counter.WaitAnswered(kTotal);

    EXPECT_EQ(counter.NotAnsweredOnce(), 0);
    EXPECT_EQ(counter.ok(), kTotal);
    EXPECT_EQ(counter.wrong(), 0);
    EXPECT_EQ(batcher->pending(), 0);
    EXPECT_LE(most_running.load(), instances);  // never more executions than instances
    BatcherStats stats = batcher->Stats();
    EXPECT_EQ(stats.success_count, kTotal);
    EXPECT_EQ(stats.inference_count, total_rows);
    EXPECT_TRUE(stats.failure_count.empty());
    EXPECT_EQ(stats.execution_count, static_cast<int64_t>(model.rows().size()));
    int64_t executions = 0;
    int64_t rows = 0;
    for (const auto& [size, count] : stats.batch_size_count) {
      EXPECT_LE(size, 8);
      executions += count;
      rows += size * count;
    }
    EXPECT_EQ(executions, stats.execution_count);
    EXPECT_EQ(rows, total_rows);
    batcher->Stop();
    EXPECT_EQ(counter.NotAnsweredOnce(), 0);
  }
}

TEST(DynamicBatcherInlineDrainTest, StopWhileDrainingLeavesTheQueueToTheWorkers) {
  CallLog log;
  Gate inline_gate;  // holds the caller's first (inline) execution
  Gate worker_gate;  // holds the worker's first execution (the flush)
  DoublingModel model;
  auto batcher = MakeBatcher(InlineOptions(/*max_batch_size=*/1, /*instances=*/1),
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               const int index = log.Record(in);
                               if (index == 0) inline_gate.Pass();
                               if (index == 1) worker_gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  std::thread caller([&] { batcher->Enqueue(Request("first", 1, 0), answers.For("first")); });
  const std::thread::id caller_id = caller.get_id();
  inline_gate.WaitEntered(1);
  for (int i = 1; i <= 5; ++i) {
    batcher->Enqueue(Request("q" + std::to_string(i), 1, static_cast<float>(i)),
                     answers.For("q" + std::to_string(i)));
  }
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    batcher->Stop();
    stopped = true;
  });
  // The caller holds the only instance, so the worker executes q1 only once
  // Stop() has set the batcher stopping (the flush ignores busy instances).
  worker_gate.WaitEntered(1);
  inline_gate.Open();
  // The caller finishes "first" and, seeing Stop(), returns without taking
  // q2..q5 (the worker is still held inside q1).
  caller.join();
  EXPECT_TRUE(answers.Has("first"));
  for (int i = 1; i <= 5; ++i) EXPECT_FALSE(answers.Has("q" + std::to_string(i))) << i;
  EXPECT_FALSE(stopped.load());  // Stop() is still joining the worker
  worker_gate.Open();
  stopper.join();
  // Stop() returned: everything accepted has been answered.
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(answers.Has("q" + std::to_string(i))) << i;
  std::vector<CallLog::Call> calls = log.Calls();
  ASSERT_EQ(calls.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_THAT(calls[i].bases, ElementsAre(static_cast<float>(i))) << i;
    if (i == 0) {
      EXPECT_EQ(calls[i].thread, caller_id);
    } else {
      EXPECT_NE(calls[i].thread, caller_id) << i;
    }
  }
  batcher->Enqueue(Request("late", 1, 0), answers.For("late"));
  EXPECT_EQ(answers.Get("late").status().message(), "draining");
  EXPECT_EQ(batcher->pending(), 0);
  BatcherStats stats = batcher->Stats();
  EXPECT_EQ(stats.success_count, 6);
  EXPECT_THAT(stats.failure_count, ElementsAre(Pair("draining", 1)));
}

TEST(DynamicBatcherInlineDrainTest, StopWaitsForAnInlineExecutionToAnswer) {
  Gate gate;
  DoublingModel model;
  std::atomic<int> calls{0};
  auto batcher = MakeBatcher(InlineOptions(/*max_batch_size=*/8, /*instances=*/1),
                             [&](std::span<const Tensor> in, std::span<const RequestedOutput> out) {
                               if (calls.fetch_add(1) == 0) gate.Pass();
                               return model(in, out);
                             });
  Answers answers;
  std::thread caller([&] { batcher->Enqueue(Request("first", 1, 0), answers.For("first")); });
  gate.WaitEntered(1);
  batcher->Enqueue(Request("queued", 1, 1), answers.For("queued"));
  std::atomic<bool> first_answered_at_stop{false};
  std::thread stopper([&] {
    batcher->Stop();
    first_answered_at_stop = answers.Has("first");
  });
  // The worker flushes "queued" once Stop() has begun, beside the inline
  // execution still held at the gate.
  answers.WaitFor(1);
  EXPECT_TRUE(answers.Has("queued"));
  gate.Open();
  caller.join();
  stopper.join();
  EXPECT_TRUE(first_answered_at_stop.load());
  EXPECT_EQ(batcher->pending(), 0);
  EXPECT_EQ(batcher->Stats().success_count, 2);
}

TEST(DynamicBatcherInlineDrainTest, StopRacingWithInlineDrainingLosesNothing) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  constexpr int kTotal = kThreads * kPerThread;
  for (int instances : {1, 2}) {
    SCOPED_TRACE(testing::Message() << "instances " << instances);
    DoublingModel model;
    auto batcher = MakeBatcher(InlineOptions(/*max_batch_size=*/4, instances), std::ref(model));
    AnswerCounter counter(kTotal);
    std::latch start(kThreads + 1);
    std::vector<std::thread> clients;
    for (int t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < kPerThread; ++i) {
          const int n = t * kPerThread + i;
          const float base = static_cast<float>(n * 10);
          batcher->Enqueue(Request(std::to_string(n), 1, base), counter.For(n, base));
        }
      });
    }
    std::thread stopper([&] {
      start.arrive_and_wait();
      counter.WaitAnswered(kTotal / 3);  // Stop in the middle of the traffic
      batcher->Stop();
    });
    stopper.join();
    for (std::thread& client : clients) client.join();
    // Stop() and every Enqueue returned: each request has had its answer.
    EXPECT_EQ(counter.NotAnsweredOnce(), 0);
    EXPECT_EQ(counter.wrong(), 0);
    EXPECT_EQ(counter.ok() + counter.draining(), kTotal);
    EXPECT_GE(counter.ok(), kTotal / 3);
    EXPECT_EQ(batcher->pending(), 0);
    BatcherStats stats = batcher->Stats();
    EXPECT_EQ(stats.success_count, counter.ok());
    const int64_t draining =
        stats.failure_count.contains("draining") ? stats.failure_count.at("draining") : 0;
    EXPECT_EQ(draining, counter.draining());
    EXPECT_EQ(static_cast<int64_t>(stats.failure_count.size()), draining > 0 ? 1 : 0);
  }
}

}  // namespace
}  // namespace ferry::serving::batching
