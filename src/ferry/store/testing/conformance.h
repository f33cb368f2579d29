#ifndef FERRY_STORE_TESTING_CONFORMANCE_H_
#define FERRY_STORE_TESTING_CONFORMANCE_H_

// The MetadataStore conformance suite: one body of tests that every
// implementation must pass. An implementation's test instantiates it with
// factories for each configuration it supports:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, MetadataStoreConformanceTest,
//                            ::testing::Values(FileFactory(), MemoryFactory()),
//                            ferry::store::conformance::FactoryName);
//
// (Passing FactoryName also makes the linker keep the suite's object file,
// where the tests register themselves.)

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ferry/common/clock.h"
#include "ferry/store/metadata_store.h"
#include "gtest/gtest.h"

namespace ferry::store::conformance {

// The default_artifact_root every factory must configure, so the suite can
// check how experiment artifact locations are derived.
inline constexpr char kArtifactRoot[] = "file:///conformance/artifacts/{experiment_id}";

struct StoreFactory {
  // Names the instantiation in test names: letters, digits and '_' only.
  std::string name;
  // Returns a store over new, empty storage that reads time from `clock`
  // (owned by the test, outlives the store) and uses kArtifactRoot.
  std::function<std::unique_ptr<MetadataStore>(Clock* clock)> create;
  // Opens the storage behind the most recent `create` again, as a restarted
  // server would. Empty when storage does not outlive its store (in-memory);
  // the persistence tests are then skipped.
  std::function<std::unique_ptr<MetadataStore>(Clock* clock)> reopen;
};

std::string FactoryName(const ::testing::TestParamInfo<StoreFactory>& info);
void PrintTo(const StoreFactory& factory, std::ostream* os);

class MetadataStoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  MetadataStore& store() { return *store_; }

  // Helpers record a test failure (and return an empty value) when the
  // store fails, so each test reads as a sequence of expectations.
  std::string CreateExperiment(const std::string& name, const std::vector<Tag>& tags = {});
  store::Run CreateRun(const std::string& experiment_id, int64_t start_time = 1000,
                       const std::string& run_name = "", const std::vector<Tag>& tags = {});
  void Log(const std::string& run_id, const std::vector<Metric>& metrics,
           const std::vector<Param>& params = {}, const std::vector<Tag>& tags = {});
  // Run ids SearchRuns returns for `query` (first page only).
  std::vector<std::string> SearchRunIds(const RunQuery& query);
  // All run ids matching `query`, following page tokens.
  std::vector<std::string> SearchAllRunIds(RunQuery query);

  FakeClock clock_;
  std::unique_ptr<MetadataStore> store_;
};

}  // namespace ferry::store::conformance

#endif  // FERRY_STORE_TESTING_CONFORMANCE_H_
