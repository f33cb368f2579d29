#ifndef FERRY_ARTIFACTS_ARTIFACT_STORE_H_
#define FERRY_ARTIFACTS_ARTIFACT_STORE_H_

// ArtifactStore: the server's own artifact storage. Client-supplied paths
// are relative, '/'-separated, and are canonicalised and confined to the
// store's root before anything touches the file system (see path.h).
// Implementations are thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ferry::artifacts {

struct FileInfo {
  std::string path;  // relative to the listed directory's root-relative prefix, as MLflow returns
  bool is_dir = false;
  int64_t file_size = 0;  // files only
};

// A place to stream an upload. Write() may be called many times; Commit()
// makes the file visible atomically (rename), Abort() (or destruction without
// Commit) removes the partial data.
class UploadSink {
 public:
  virtual ~UploadSink() = default;
  virtual absl::Status Write(std::string_view chunk) = 0;
  virtual absl::Status Commit() = 0;
  virtual void Abort() = 0;
};

class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;

  // `path` is client-supplied; InvalidArgument if it is hostile (see path.h).
  virtual absl::StatusOr<std::unique_ptr<UploadSink>> BeginUpload(std::string_view path) = 0;

  // Absolute file-system path of an existing regular file, for streaming
  // with sendfile/file_body. NotFound if missing; InvalidArgument if hostile
  // or if the real path (symlinks resolved) leaves the root.
  virtual absl::StatusOr<std::string> ResolveForRead(std::string_view path) = 0;

  // Immediate children of directory `path` ("" = root). Entries' `path` is
  // `path` + "/" + name (MLflow's convention). A missing directory lists empty.
  virtual absl::StatusOr<std::vector<FileInfo>> List(std::string_view path) = 0;

  // Deletes a file or a directory tree. NotFound if nothing is there.
  virtual absl::Status Delete(std::string_view path) = 0;
};

struct LocalArtifactStoreOptions {
  std::string root;  // created if missing; canonicalised at Create()
};

absl::StatusOr<std::unique_ptr<ArtifactStore>> CreateLocalArtifactStore(
    const LocalArtifactStoreOptions& options);

}  // namespace ferry::artifacts

#endif  // FERRY_ARTIFACTS_ARTIFACT_STORE_H_
