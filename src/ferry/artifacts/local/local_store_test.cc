#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ferry/artifacts/artifact_store.h"
#include "gtest/gtest.h"

namespace ferry::artifacts {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << data;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// Every regular file or link under `dir` whose name marks an in-flight upload.
std::vector<std::string> TempFilesUnder(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(".ferry-upload-", 0) == 0) {
      out.push_back(entry.path().string());
    }
  }
  return out;
}

class LocalArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ferry-artifacts-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = fs::canonical(tmpl);
    root_ = base_ / "root";
    outside_ = base_ / "outside";
    fs::create_directories(outside_);
    WriteFile(outside_ / "secret.txt", "top secret");
    auto store = CreateLocalArtifactStore({.root = root_.string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  absl::Status Upload(const std::string& path, const std::string& data, size_t chunk = 7) {
    auto sink = store_->BeginUpload(path);
    if (!sink.ok()) return sink.status();
    for (size_t i = 0; i < data.size(); i += chunk) {
      absl::Status s = (*sink)->Write(std::string_view(data).substr(i, chunk));
      if (!s.ok()) return s;
    }
    return (*sink)->Commit();
  }

  std::string ReadBack(const std::string& path) {
    auto real = store_->ResolveForRead(path);
    EXPECT_TRUE(real.ok()) << path << ": " << real.status();
    return real.ok() ? ReadFile(*real) : std::string();
  }

  fs::path base_;
  fs::path root_;
  fs::path outside_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_F(LocalArtifactStoreTest, CreateRejectsEmptyRootAndCanonicalisesRoot) {
  EXPECT_EQ(CreateLocalArtifactStore({.root = ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A root reached through a symlink and with "." / ".." in it resolves to
  // the real directory.
  fs::create_symlink(root_, base_ / "root-link");
  auto store =
      CreateLocalArtifactStore({.root = (base_ / "root-link" / "." / "sub" / "..").string()});
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(Upload("f.txt", "x").ok());
  auto real = (*store)->ResolveForRead("f.txt");
  ASSERT_TRUE(real.ok()) << real.status();
  EXPECT_EQ(*real, (root_ / "f.txt").string());
}

TEST_F(LocalArtifactStoreTest, CreateMakesMissingRoot) {
  fs::path deep = base_ / "a" / "b" / "c";
  auto store = CreateLocalArtifactStore({.root = deep.string()});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE(fs::is_directory(deep));
}

TEST_F(LocalArtifactStoreTest, CreateFailsWhenRootIsAFile) {
  WriteFile(base_ / "file", "x");
  EXPECT_FALSE(CreateLocalArtifactStore({.root = (base_ / "file").string()}).ok());
}

TEST_F(LocalArtifactStoreTest, StreamingUploadReadsBackByteEqual) {
  const std::string data = RandomBytes(1 << 20, 42);  // includes NUL bytes
  ASSERT_TRUE(Upload("run1/artifacts/model/model.bin", data, 4093).ok());
  EXPECT_EQ(ReadBack("run1/artifacts/model/model.bin"), data);
  EXPECT_TRUE(TempFilesUnder(root_).empty());
}

TEST_F(LocalArtifactStoreTest, EmptyUploadCreatesEmptyFile) {
  ASSERT_TRUE(Upload("empty", "").ok());
  EXPECT_EQ(ReadBack("empty"), "");
}

TEST_F(LocalArtifactStoreTest, UploadIsInvisibleUntilCommit) {
  auto sink = store_->BeginUpload("a/b.txt");
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Write("hello").ok());
  EXPECT_EQ(store_->ResolveForRead("a/b.txt").status().code(), absl::StatusCode::kNotFound);
  auto listing = store_->List("a");
  ASSERT_TRUE(listing.ok());
  EXPECT_TRUE(listing->empty()) << "temp files must be hidden";
  ASSERT_TRUE((*sink)->Commit().ok());
  EXPECT_EQ(ReadBack("a/b.txt"), "hello");
}

TEST_F(LocalArtifactStoreTest, AbortLeavesNoFile) {
  auto sink = store_->BeginUpload("dir/partial.bin");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write("partial data").ok());
  (*sink)->Abort();
  (*sink)->Abort();  // idempotent
  EXPECT_EQ(store_->ResolveForRead("dir/partial.bin").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(TempFilesUnder(root_).empty());
  EXPECT_EQ((*sink)->Write("more").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*sink)->Commit().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LocalArtifactStoreTest, DestructionWithoutCommitAborts) {
  {
    auto sink = store_->BeginUpload("dropped.bin");
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Write("x").ok());
  }
  EXPECT_EQ(store_->ResolveForRead("dropped.bin").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(TempFilesUnder(root_).empty());
}

TEST_F(LocalArtifactStoreTest, WriteAfterCommitFails) {
  auto sink = store_->BeginUpload("once.txt");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Commit().ok());
  EXPECT_EQ((*sink)->Write("late").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*sink)->Commit().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LocalArtifactStoreTest, CommitReplacesExistingFile) {
  ASSERT_TRUE(Upload("f.txt", "old contents").ok());
  ASSERT_TRUE(Upload("f.txt", "new").ok());
  EXPECT_EQ(ReadBack("f.txt"), "new");
}

TEST_F(LocalArtifactStoreTest, UploadPathChecks) {
  EXPECT_EQ(store_->BeginUpload("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("/").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload(".ferry-upload-x").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(Upload("d/file.txt", "x").ok());
  // Target is a directory.
  EXPECT_EQ(store_->BeginUpload("d").status().code(), absl::StatusCode::kFailedPrecondition);
  // A parent is a file.
  EXPECT_EQ(store_->BeginUpload("d/file.txt/child").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LocalArtifactStoreTest, HostilePathsRejectedEverywhere) {
  for (std::string path :
       {"../x", "a/../../x", "/etc/passwd", "a\\..\\b", "%2e%2e/x", "C:\\x", "a/./b"}) {
    EXPECT_EQ(store_->BeginUpload(path).status().code(), absl::StatusCode::kInvalidArgument)
        << path;
    EXPECT_EQ(store_->ResolveForRead(path).status().code(), absl::StatusCode::kInvalidArgument)
        << path;
    EXPECT_EQ(store_->List(path).status().code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_EQ(store_->Delete(path).code(), absl::StatusCode::kInvalidArgument) << path;
  }
  EXPECT_FALSE(fs::exists(base_ / "x"));
}

TEST_F(LocalArtifactStoreTest, SymlinkToEtcIsRejectedOnReadListAndUpload) {
  fs::create_symlink("/etc", root_ / "etc-link");
  EXPECT_EQ(store_->ResolveForRead("etc-link/passwd").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("etc-link").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("etc-link/ferry-test-should-not-exist").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists("/etc/ferry-test-should-not-exist"));
  // Nor can a directory be created through it.
  EXPECT_EQ(store_->BeginUpload("etc-link/newdir/file").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists("/etc/newdir"));
}

TEST_F(LocalArtifactStoreTest, SymlinkLeavingRootIsRejected) {
  fs::create_symlink(outside_, root_ / "out-dir");
  fs::create_symlink(outside_ / "secret.txt", root_ / "out-file");
  fs::create_directories(root_ / "sub");
  fs::create_symlink("../../outside", root_ / "sub" / "relative-out");

  for (std::string path : {"out-dir/secret.txt", "out-file", "sub/relative-out/secret.txt"}) {
    EXPECT_EQ(store_->ResolveForRead(path).status().code(), absl::StatusCode::kInvalidArgument)
        << path;
  }
  EXPECT_EQ(store_->List("out-dir").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("sub/relative-out").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("out-dir/new.txt").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("out-dir/deep/new.txt").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Uploading over the link itself is refused too, so the outside file is
  // never touched.
  EXPECT_EQ(store_->BeginUpload("out-file").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(outside_ / "new.txt"));
  EXPECT_FALSE(fs::exists(outside_ / "deep"));
  EXPECT_EQ(ReadFile((outside_ / "secret.txt").string()), "top secret");

  // Links leaving the root are left out of listings.
  auto listing = store_->List("");
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->size(), 1u);
  EXPECT_EQ((*listing)[0].path, "sub");
}

TEST_F(LocalArtifactStoreTest, DanglingAndLoopingSymlinksAreRejected) {
  fs::create_symlink(root_ / "does-not-exist", root_ / "dangling");
  fs::create_symlink(root_ / "loop-b", root_ / "loop-a");
  fs::create_symlink(root_ / "loop-a", root_ / "loop-b");
  EXPECT_EQ(store_->ResolveForRead("dangling").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("dangling/x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("dangling").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ResolveForRead("loop-a/x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(root_ / "does-not-exist"));
  auto listing = store_->List("");
  ASSERT_TRUE(listing.ok());
  EXPECT_TRUE(listing->empty());
}

TEST_F(LocalArtifactStoreTest, SymlinkInsideRootIsFollowed) {
  ASSERT_TRUE(Upload("real/data.txt", "inside").ok());
  fs::create_symlink(root_ / "real", root_ / "alias");
  EXPECT_EQ(ReadBack("alias/data.txt"), "inside");
  auto listing = store_->List("alias");
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->size(), 1u);
  EXPECT_EQ((*listing)[0].path, "alias/data.txt");
  ASSERT_TRUE(Upload("alias/more/new.txt", "via link").ok());
  EXPECT_EQ(ReadFile((root_ / "real" / "more" / "new.txt").string()), "via link");
}

TEST_F(LocalArtifactStoreTest, ListHasMlflowShape) {
  ASSERT_TRUE(Upload("run/b.txt", "12345").ok());
  ASSERT_TRUE(Upload("run/a.txt", "1").ok());
  ASSERT_TRUE(Upload("run/model/MLmodel", "flavors: {}").ok());
  ASSERT_TRUE(Upload("top.txt", "xy").ok());

  auto listing = store_->List("run");
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->size(), 3u);
  EXPECT_EQ((*listing)[0].path, "run/a.txt");
  EXPECT_FALSE((*listing)[0].is_dir);
  EXPECT_EQ((*listing)[0].file_size, 1);
  EXPECT_EQ((*listing)[1].path, "run/b.txt");
  EXPECT_EQ((*listing)[1].file_size, 5);
  EXPECT_EQ((*listing)[2].path, "run/model");
  EXPECT_TRUE((*listing)[2].is_dir);
  EXPECT_EQ((*listing)[2].file_size, 0);

  auto root_listing = store_->List("");
  ASSERT_TRUE(root_listing.ok());
  ASSERT_EQ(root_listing->size(), 2u);
  EXPECT_EQ((*root_listing)[0].path, "run");
  EXPECT_EQ((*root_listing)[1].path, "top.txt");

  // Non-canonical spellings list the same thing with canonical entry paths.
  auto slashed = store_->List("run//model/");
  ASSERT_TRUE(slashed.ok());
  ASSERT_EQ(slashed->size(), 1u);
  EXPECT_EQ((*slashed)[0].path, "run/model/MLmodel");

  auto of_file = store_->List("run/a.txt");
  ASSERT_TRUE(of_file.ok());
  EXPECT_TRUE(of_file->empty());
  auto missing = store_->List("nope/deeper");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  auto under_file = store_->List("run/a.txt/x");
  ASSERT_TRUE(under_file.ok());
  EXPECT_TRUE(under_file->empty());
}

TEST_F(LocalArtifactStoreTest, ListSkipsNamesTheApiCannotAddress) {
  WriteFile(root_ / "ok.txt", "x");
  WriteFile(root_ / "bad\nname", "x");
  auto listing = store_->List("");
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->size(), 1u);
  EXPECT_EQ((*listing)[0].path, "ok.txt");
}

TEST_F(LocalArtifactStoreTest, ResolveForReadErrors) {
  ASSERT_TRUE(Upload("d/f.txt", "x").ok());
  EXPECT_EQ(store_->ResolveForRead("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ResolveForRead("d").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ResolveForRead("").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ResolveForRead("d/f.txt/x").status().code(), absl::StatusCode::kNotFound);
  auto real = store_->ResolveForRead("d//f.txt");
  ASSERT_TRUE(real.ok());
  EXPECT_EQ(*real, (root_ / "d" / "f.txt").string());
}

TEST_F(LocalArtifactStoreTest, DeleteFileAndTree) {
  ASSERT_TRUE(Upload("t/a/1.txt", "1").ok());
  ASSERT_TRUE(Upload("t/a/2.txt", "2").ok());
  ASSERT_TRUE(Upload("t/b.txt", "b").ok());
  ASSERT_TRUE(store_->Delete("t/b.txt").ok());
  EXPECT_FALSE(fs::exists(root_ / "t" / "b.txt"));
  ASSERT_TRUE(store_->Delete("t").ok());
  EXPECT_FALSE(fs::exists(root_ / "t"));
  EXPECT_EQ(store_->Delete("t").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("nope/x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::is_directory(root_));
}

TEST_F(LocalArtifactStoreTest, DeleteNeverFollowsLinksOut) {
  fs::create_symlink(outside_, root_ / "out-dir");
  fs::create_directories(root_ / "tree");
  fs::create_symlink(outside_, root_ / "tree" / "inner-link");
  // Through a link: rejected.
  EXPECT_EQ(store_->Delete("out-dir/secret.txt").code(), absl::StatusCode::kInvalidArgument);
  // A tree holding a link: the link goes, the target stays.
  ASSERT_TRUE(store_->Delete("tree").ok());
  // The link itself: removed, target untouched.
  ASSERT_TRUE(store_->Delete("out-dir").ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "out-dir")));
  EXPECT_EQ(ReadFile((outside_ / "secret.txt").string()), "top secret");
}

TEST_F(LocalArtifactStoreTest, ConcurrentUploads) {
  constexpr int kThreads = 8;
  constexpr int kFilesPerThread = 16;
  std::vector<std::string> shared_contents;
  for (int t = 0; t < kThreads; ++t) shared_contents.push_back(RandomBytes(64 * 1024, 1000 + t));

  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kFilesPerThread; ++i) {
        // Distinct files in directories every thread creates at once.
        std::string path = absl::StrCat("shared/dir", i % 4, "/t", t, "_", i, ".bin");
        absl::Status s = Upload(path, RandomBytes(4096 + i, t * 100 + i), 1000);
        if (!s.ok()) {
          results[t] = s;
          return;
        }
      }
      // Everyone writes the same path: one complete version must win.
      absl::Status s = Upload("shared/contended.bin", shared_contents[t], 8192);
      if (!s.ok()) results[t] = s;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const absl::Status& s : results) ASSERT_TRUE(s.ok()) << s;

  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kFilesPerThread; ++i) {
      std::string path = absl::StrCat("shared/dir", i % 4, "/t", t, "_", i, ".bin");
      EXPECT_EQ(ReadBack(path), RandomBytes(4096 + i, t * 100 + i)) << path;
    }
  }
  std::string winner = ReadBack("shared/contended.bin");
  EXPECT_NE(std::find(shared_contents.begin(), shared_contents.end(), winner),
            shared_contents.end());
  EXPECT_TRUE(TempFilesUnder(root_).empty());
  auto listing = store_->List("shared");
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(listing->size(), 5u);  // dir0..dir3 + contended.bin
}

}  // namespace
}  // namespace ferry::artifacts
