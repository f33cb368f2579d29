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
// Commit) removes the partial data. After Commit() or Abort(), Write() and
// Commit() return FailedPrecondition; Abort() is idempotent. One sink is
// used by one thread at a time; different sinks are independent, and
// concurrent uploads to the same path leave exactly one complete file (the
// last to commit wins).
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

  // `path` is client-supplied; InvalidArgument if it is hostile (see path.h),
  // empty, or goes through a symlink whose real path leaves the root.
  // Missing parent directories are created. FailedPrecondition if `path` is
  // an existing directory or a parent is a file. Names starting with
  // ".ferry-upload-" are reserved (InvalidArgument) for in-flight temp files.
  virtual absl::StatusOr<std::unique_ptr<UploadSink>> BeginUpload(std::string_view path) = 0;

  // Absolute file-system path (symlinks resolved) of an existing regular
  // file, for streaming with sendfile/file_body. NotFound if missing or not
  // a regular file (e.g. a directory); InvalidArgument if hostile or if the
  // real path leaves the root.
  virtual absl::StatusOr<std::string> ResolveForRead(std::string_view path) = 0;

  // Immediate children of directory `path` ("" = root), sorted by name.
  // Entries' `path` is `path` + "/" + name (MLflow's convention; just name at
  // the root). A missing directory, or a `path` that is a file, lists empty.
  // InvalidArgument if `path` goes through a symlink leaving the root;
  // children that are such symlinks, dangling links or special files are
  // left out.
  virtual absl::StatusOr<std::vector<FileInfo>> List(std::string_view path) = 0;

  // Deletes a file or a directory tree. NotFound if nothing is there;
  // InvalidArgument for the root itself (""). A symlink is removed, never
  // its target, and links inside a deleted tree are not followed.
  virtual absl::Status Delete(std::string_view path) = 0;
};

struct LocalArtifactStoreOptions {
  std::string root;  // created if missing; canonicalised at Create()
};

absl::StatusOr<std::unique_ptr<ArtifactStore>> CreateLocalArtifactStore(
    const LocalArtifactStoreOptions& options);

}  // namespace ferry::artifacts

#endif  // FERRY_ARTIFACTS_ARTIFACT_STORE_H_
