#ifndef FERRY_STORE_TESTING_REGISTRY_CONFORMANCE_H_
#define FERRY_STORE_TESTING_REGISTRY_CONFORMANCE_H_

// The RegistryStore conformance suite: model registry, promotion policies,
// approvals and the audit log, reached through MetadataStore::registry().
// Every MetadataStore implementation instantiates it with the same factories
// as the tracking suite (conformance.h):
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, RegistryStoreConformanceTest,
//                            ::testing::Values(FileFactory(), MemoryFactory()),
//                            ferry::store::conformance::RegistryFactoryName);
//
// (RegistryFactoryName lives in this suite's object file, so passing it
// makes the linker keep the tests.)

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ferry/common/clock.h"
#include "ferry/store/metadata_store.h"
#include "ferry/store/registry_store.h"
#include "ferry/store/testing/conformance.h"
#include "gtest/gtest.h"

namespace ferry::store::conformance {

std::string RegistryFactoryName(const ::testing::TestParamInfo<StoreFactory>& info);

// A deterministic stand-in for the governance layer's SHA-256 hasher: FNV-1a
// over a length-prefixed encoding of every field but `hash`, as 16 hex
// digits. Any change to any field (prev_hash and seq included) changes it.
std::string TestAuditHash(const AuditEntry& entry);

class RegistryStoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  RegistryStore& reg() { return *store_->registry(); }

  // Helpers record a test failure (and return an empty value) when the
  // store fails.
  RegisteredModel CreateModel(const std::string& name, const std::vector<Tag>& tags = {});
  ModelVersion CreateVersion(const std::string& name, const std::string& run_id = "",
                             const std::string& source = "", const std::vector<Tag>& tags = {});
  ModelVersion GetVersion(const std::string& name, int64_t version);
  RegisteredModel GetModel(const std::string& name);
  AuditEntry Append(const std::string& object_id, const std::string& action = "test.append");
  // Names on the first page of a registered-model search.
  std::vector<std::string> ModelNames(const RegisteredModelQuery& query);
  // Every name matching `query`, following page tokens.
  std::vector<std::string> AllModelNames(RegisteredModelQuery query);
  // "name/version" of the versions on the first page of a version search.
  std::vector<std::string> VersionKeys(const ModelVersionQuery& query);
  std::vector<std::string> AllVersionKeys(ModelVersionQuery query);

  FakeClock clock_;
  std::unique_ptr<MetadataStore> store_;
};

}  // namespace ferry::store::conformance

#endif  // FERRY_STORE_TESTING_REGISTRY_CONFORMANCE_H_
