// Local-file-system ArtifactStore.
//
// Confinement: every client path is canonicalised (path.h), then walked one
// segment at a time from the canonical root with lstat(). A segment that is
// a symlink is resolved with realpath() and must land inside the root (a
// dangling or looping link is rejected too); anything else is a plain child
// of a directory already known to be inside the root. Directories for an
// upload are created one level at a time on that walk, so nothing is ever
// created through a link that leaves the root. Data is written to a temp
// file created with O_EXCL|O_NOFOLLOW in the (verified) target directory,
// fsync'ed, and renamed over the final name; rename() replaces a link at the
// final name rather than following it.
//
// Threat model: clients cannot create symlinks through the API, so links in
// the root come from operators or other local processes. The checks stop
// such links from leaking files outside the root; they do not defend
// against a local attacker swapping directories for links between the
// check and the use (that needs openat2(RESOLVE_BENEATH) end to end, and
// ResolveForRead hands a path, not a descriptor, to the HTTP layer).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/artifacts/path.h"
#include "ferry/common/ids.h"

namespace ferry::artifacts {
namespace {

// Upload temp files live beside their target and are hidden from List; the
// prefix is reserved so clients cannot address other uploads' temp files.
constexpr std::string_view kTempPrefix = ".ferry-upload-";

// Debian's Abseil is built with its own string_view type.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// `shown` is the root-relative path: messages reach clients, so they never
// reveal where the root lives. Permission and disk problems are the server's
// fault (5xx), not the client's.
absl::Status ErrnoStatus(std::string_view what, std::string_view shown, int err) {
  std::string message = absl::StrCat(Sv(what), " '", Sv(shown), "': ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EEXIST:
      return absl::FailedPreconditionError(message);
    case ENAMETOOLONG:
    case ELOOP:
      return absl::InvalidArgumentError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir == "/") return absl::StrCat("/", Sv(name));
  return absl::StrCat(Sv(dir), "/", Sv(name));
}

// Canonicalises a client path, rejects reserved names, and splits it.
absl::StatusOr<std::vector<std::string>> ClientSegments(std::string_view path) {
  auto canonical = CanonicalizeRelativePath(path);
  if (!canonical.ok()) return canonical.status();
  std::vector<std::string> segments;
  if (canonical->empty()) return segments;
  segments = absl::StrSplit(*canonical, '/');
  for (const std::string& segment : segments) {
    if (segment.starts_with(kTempPrefix)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid artifact path: names starting with '",
                                                     Sv(kTempPrefix), "' are reserved"));
    }
  }
  return segments;
}

std::string JoinSegments(const std::vector<std::string>& segments, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back('/');
    out += segments[i];
  }
  return out;
}

// fsync of a directory, so a rename inside it survives a crash.
void SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

class LocalUploadSink : public UploadSink {
 public:
  // Takes ownership of `fd`, an open temp file at `temp_path` inside `dir`.
  // `shown` is the client's canonical path, for messages.
  LocalUploadSink(int fd, std::string dir, std::string temp_path, std::string final_path,
                  std::string shown)
      : fd_(fd),
        dir_(std::move(dir)),
        temp_path_(std::move(temp_path)),
        final_path_(std::move(final_path)),
        shown_(std::move(shown)) {}

  ~LocalUploadSink() override { Abort(); }

  absl::Status Write(std::string_view chunk) override {
    if (fd_ < 0) return absl::FailedPreconditionError("upload already committed or aborted");
    while (!chunk.empty()) {
      ssize_t n = ::write(fd_, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        return ErrnoStatus("cannot write upload", shown_, err);
      }
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    if (fd_ < 0) return absl::FailedPreconditionError("upload already committed or aborted");
    if (::fsync(fd_) != 0) {
      int err = errno;
      Abort();
      return ErrnoStatus("cannot fsync upload", shown_, err);
    }
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      int err = errno;
      ::unlink(temp_path_.c_str());
      return ErrnoStatus("cannot close upload", shown_, err);
    }
    // The directory was verified at BeginUpload; check again right before
    // the rename in case it was swapped for a link meanwhile.
    char real[PATH_MAX];
    if (::realpath(dir_.c_str(), real) == nullptr || std::string_view(real) != dir_) {
      ::unlink(temp_path_.c_str());
      return absl::InvalidArgumentError(
          "invalid artifact path: the target directory moved during the upload");
    }
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      int err = errno;
      ::unlink(temp_path_.c_str());
      return ErrnoStatus("cannot move upload into place", shown_, err);
    }
    SyncDirectory(dir_);
    return absl::OkStatus();
  }

  void Abort() override {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_path_.c_str());
  }

 private:
  int fd_;
  std::string dir_;
  std::string temp_path_;
  std::string final_path_;
  std::string shown_;
};

class LocalArtifactStore : public ArtifactStore {
 public:
  explicit LocalArtifactStore(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<std::unique_ptr<UploadSink>> BeginUpload(std::string_view path) override {
    auto segments = ClientSegments(path);
    if (!segments.ok()) return segments.status();
    if (segments->empty()) {
      return absl::InvalidArgumentError("invalid artifact path: an upload needs a file name");
    }
    const size_t parents = segments->size() - 1;
    auto walk = Walk(*segments, parents);
    if (!walk.ok()) return walk.status();
    if (walk->not_a_directory) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot upload to '", JoinSegments(*segments, segments->size()), "': '",
                       JoinSegments(*segments, walk->resolved), "' is not a directory"));
    }
    std::string dir = walk->real;
    for (size_t i = walk->resolved; i < parents; ++i) {
      auto next = MakeChildDirectory(dir, (*segments)[i]);
      if (!next.ok()) return next.status();
      dir = *std::move(next);
    }

    const std::string& name = segments->back();
    std::string final_path = JoinPath(dir, name);
    auto final_entry = Inspect(final_path);
    if (!final_entry.ok()) return final_entry.status();
    if (final_entry->exists && final_entry->is_dir) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot upload to '", JoinSegments(*segments, segments->size()), "': it is a directory"));
    }

    std::string shown = JoinSegments(*segments, segments->size());
    std::string temp_path = JoinPath(dir, absl::StrCat(Sv(kTempPrefix), NewHexId(), ".tmp"));
    int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      int err = errno;
      return ErrnoStatus("cannot create upload file for", shown, err);
    }
    return std::unique_ptr<UploadSink>(std::make_unique<LocalUploadSink>(
        fd, std::move(dir), std::move(temp_path), std::move(final_path), std::move(shown)));
  }

  absl::StatusOr<std::string> ResolveForRead(std::string_view path) override {
    auto segments = ClientSegments(path);
    if (!segments.ok()) return segments.status();
    std::string shown = JoinSegments(*segments, segments->size());
    auto walk = Walk(*segments, segments->size());
    if (!walk.ok()) return walk.status();
    if (walk->resolved < segments->size() || walk->not_a_directory) {
      return absl::NotFoundError(absl::StrCat("no artifact at '", shown, "'"));
    }
    struct stat st;
    if (::stat(walk->real.c_str(), &st) != 0) {
      int err = errno;
      return ErrnoStatus("cannot stat artifact", shown, err);
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("artifact '", shown, "' is not a file"));
    }
    return walk->real;
  }

  absl::StatusOr<std::vector<FileInfo>> List(std::string_view path) override {
    auto segments = ClientSegments(path);
    if (!segments.ok()) return segments.status();
    std::vector<FileInfo> out;
    auto walk = Walk(*segments, segments->size());
    if (!walk.ok()) return walk.status();
    if (walk->resolved < segments->size() || walk->not_a_directory) return out;
    auto dir_entry = Inspect(walk->real);
    if (!dir_entry.ok()) return dir_entry.status();
    if (!dir_entry->is_dir) return out;  // a file lists empty, as in MLflow

    const std::string prefix = JoinSegments(*segments, segments->size());
    std::error_code ec;
    std::filesystem::directory_iterator it(walk->real, ec);
    if (ec) return ErrnoStatus("cannot list artifacts", prefix, ec.value());
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.starts_with(kTempPrefix)) continue;
      // Names the API could not address (control bytes, invalid UTF-8, ...)
      // are skipped: they cannot be downloaded and would poison JSON.
      auto canonical = CanonicalizeRelativePath(name);
      if (!canonical.ok() || *canonical != name) continue;
      auto child = Inspect(JoinPath(walk->real, name));
      // A link leaving the root, a dangling link, or a special file is
      // simply not an artifact.
      if (!child.ok() || !child->exists || !(child->is_dir || child->is_regular)) continue;
      FileInfo info;
      info.path = prefix.empty() ? name : absl::StrCat(prefix, "/", name);
      info.is_dir = child->is_dir;
      info.file_size = child->is_dir ? 0 : child->size;
      out.push_back(std::move(info));
    }
    if (ec) return ErrnoStatus("cannot list artifacts", prefix, ec.value());
    std::sort(out.begin(), out.end(),
              [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
    return out;
  }

  absl::Status Delete(std::string_view path) override {
    auto segments = ClientSegments(path);
    if (!segments.ok()) return segments.status();
    if (segments->empty()) {
      return absl::InvalidArgumentError("invalid artifact path: refusing to delete the root");
    }
    std::string shown = JoinSegments(*segments, segments->size());
    const size_t parents = segments->size() - 1;
    auto walk = Walk(*segments, parents);
    if (!walk.ok()) return walk.status();
    if (walk->resolved < parents || walk->not_a_directory) {
      return absl::NotFoundError(absl::StrCat("no artifact at '", shown, "'"));
    }
    std::string target = JoinPath(walk->real, segments->back());
    struct stat st;
    if (::lstat(target.c_str(), &st) != 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no artifact at '", shown, "'"));
      int err = errno;
      return ErrnoStatus("cannot delete artifact", shown, err);
    }
    if (S_ISDIR(st.st_mode)) {
      // remove_all does not follow links inside the tree; it removes them.
      std::error_code ec;
      std::filesystem::remove_all(target, ec);
      if (ec) return ErrnoStatus("cannot delete artifact", shown, ec.value());
      return absl::OkStatus();
    }
    // A file, or a link (the link itself is removed, never its target).
    if (::unlink(target.c_str()) != 0) {
      int err = errno;
      return ErrnoStatus("cannot delete artifact", shown, err);
    }
    return absl::OkStatus();
  }

 private:
  struct WalkResult {
    std::string real;              // real path of the deepest existing prefix
    size_t resolved = 0;           // how many segments exist
    bool not_a_directory = false;  // segment `resolved - 1` exists but more follow and it is no dir
  };

  struct Entry {
    bool exists = false;
    bool is_dir = false;
    bool is_regular = false;
    int64_t size = 0;
  };

  bool Within(std::string_view real) const {
    if (root_ == "/") return true;
    return real == root_ ||
           (real.starts_with(root_) && real.size() > root_.size() && real[root_.size()] == '/');
  }

  // `real` (inside the root) relative to the root, for messages.
  std::string Relative(std::string_view real) const {
    if (!Within(real)) return "(outside the artifact root)";
    if (real.size() <= root_.size()) return "";
    return std::string(real.substr(root_ == "/" ? 1 : root_.size() + 1));
  }

  // Real path of `link` if it resolves inside the root; InvalidArgument if it
  // leaves the root or cannot be resolved.
  absl::StatusOr<std::string> ResolveLink(const std::string& link) const {
    char real[PATH_MAX];
    if (::realpath(link.c_str(), real) == nullptr) {
      return absl::InvalidArgumentError(
          "invalid artifact path: it goes through a symbolic link that does not resolve");
    }
    if (!Within(real)) {
      return absl::InvalidArgumentError(
          "invalid artifact path: it resolves outside the artifact root");
    }
    return std::string(real);
  }

  // lstat()s `path` (already confined); a link is followed only when its
  // real target is inside the root, and the entry then describes the target.
  absl::StatusOr<Entry> Inspect(const std::string& path) const {
    Entry entry;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return entry;
      int err = errno;
      return ErrnoStatus("cannot inspect artifact path", Relative(path), err);
    }
    if (S_ISLNK(st.st_mode)) {
      auto real = ResolveLink(path);
      if (!real.ok()) return real.status();
      if (::stat(real->c_str(), &st) != 0) {
        int err = errno;
        return ErrnoStatus("cannot inspect artifact path", Relative(*real), err);
      }
    }
    entry.exists = true;
    entry.is_dir = S_ISDIR(st.st_mode);
    entry.is_regular = S_ISREG(st.st_mode);
    entry.size = static_cast<int64_t>(st.st_size);
    return entry;
  }

  // Walks the first `count` segments from the root.
  absl::StatusOr<WalkResult> Walk(const std::vector<std::string>& segments, size_t count) const {
    WalkResult result;
    result.real = root_;
    for (size_t i = 0; i < count; ++i) {
      std::string candidate = JoinPath(result.real, segments[i]);
      struct stat st;
      if (::lstat(candidate.c_str(), &st) != 0) {
        if (errno == ENOENT) return result;
        if (errno == ENOTDIR) {
          result.not_a_directory = true;
          return result;
        }
        int err = errno;
        return ErrnoStatus("cannot inspect artifact path", JoinSegments(segments, i + 1), err);
      }
      if (S_ISLNK(st.st_mode)) {
        auto real = ResolveLink(candidate);
        if (!real.ok()) return real.status();
        candidate = *std::move(real);
        if (::stat(candidate.c_str(), &st) != 0) {
          int err = errno;
          return ErrnoStatus("cannot inspect artifact path", JoinSegments(segments, i + 1), err);
        }
      }
      result.real = std::move(candidate);
      result.resolved = i + 1;
      if (i + 1 < count && !S_ISDIR(st.st_mode)) {
        result.not_a_directory = true;
        return result;
      }
    }
    return result;
  }

  // Creates (or adopts, if another upload won the race) directory `name`
  // inside the confined directory `dir`; returns its real path.
  absl::StatusOr<std::string> MakeChildDirectory(const std::string& dir,
                                                 const std::string& name) const {
    std::string child = JoinPath(dir, name);
    if (::mkdir(child.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      return ErrnoStatus("cannot create artifact directory", Relative(child), err);
    }
    struct stat st;
    if (::lstat(child.c_str(), &st) != 0) {
      int err = errno;
      return ErrnoStatus("cannot inspect artifact directory", Relative(child), err);
    }
    if (S_ISLNK(st.st_mode)) {
      auto real = ResolveLink(child);
      if (!real.ok()) return real.status();
      child = *std::move(real);
      if (::stat(child.c_str(), &st) != 0) {
        int err = errno;
        return ErrnoStatus("cannot inspect artifact directory", Relative(child), err);
      }
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot upload: '", name, "' exists and is not a directory"));
    }
    return child;
  }

  const std::string root_;  // canonical (realpath), no trailing '/' unless "/"
};

}  // namespace

absl::StatusOr<std::unique_ptr<ArtifactStore>> CreateLocalArtifactStore(
    const LocalArtifactStoreOptions& options) {
  if (options.root.empty()) {
    return absl::InvalidArgumentError("local artifact store: root must not be empty");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.root, ec);
  if (ec) return ErrnoStatus("cannot create artifact root", options.root, ec.value());
  std::filesystem::path root = std::filesystem::canonical(options.root, ec);
  if (ec) return ErrnoStatus("cannot resolve artifact root", options.root, ec.value());
  if (!std::filesystem::is_directory(root, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("artifact root '", root.string(), "' is not a directory"));
  }
  return std::unique_ptr<ArtifactStore>(std::make_unique<LocalArtifactStore>(root.string()));
}

}  // namespace ferry::artifacts
