#include "ferry/serving/manager/model_source.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "ferry/artifacts/path.h"
#include "ferry/common/ids.h"
#include "ferry/common/status.h"
#include "ferry/common/url.h"
#include "ferry/http/client.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace ferry::serving {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kArtifactScheme = "mlflow-artifacts:";
constexpr size_t kMaxDownloadFiles = 10'000;

bool ValidServedName(std::string_view name) {
  if (name.empty() || name.size() > 256 || name.front() == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The registry answers errors as {"error_code": ..., "message": ...}.
absl::Status RemoteError(const http::ClientResponse& r, const std::string& what) {
  std::string message = r.body;
  auto parsed = json::parse(r.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string())
    message = parsed["message"].get<std::string>();
  std::string text = absl::StrCat(what, ": HTTP ", r.status, ": ", message);
  if (r.status == 404 ||
      (parsed.is_object() && parsed.value("error_code", "") == "RESOURCE_DOES_NOT_EXIST"))
    return absl::NotFoundError(text);
  if (r.status >= 400 && r.status < 500) return absl::InvalidArgumentError(text);
  return absl::UnavailableError(text);
}

class RegistrySource : public ModelSource {
 public:
  RegistrySource(RegistrySourceOptions options, std::unique_ptr<http::Client> client)
      : options_(std::move(options)), client_(std::move(client)) {}

  std::string Describe() const override {
    return absl::StrCat("models:/", options_.registered_model,
                        options_.default_ref.starts_with("@") ? "" : "/", options_.default_ref);
  }
  std::string DefaultRef() const override { return options_.default_ref; }

  absl::StatusOr<ResolvedVersion> Resolve(const std::string& ref_in) override {
    std::string ref = ref_in.empty() ? options_.default_ref : ref_in;
    std::string name_q = PercentEncode(options_.registered_model, /*keep_slash=*/false);
    std::string version;
    if (ref.starts_with("@")) {
      FERRY_ASSIGN_OR_RETURN(
          json body, GetJson(absl::StrCat("/api/2.0/mlflow/registered-models/alias?name=", name_q,
                                          "&alias=", PercentEncode(ref.substr(1), false)),
                             absl::StrCat("resolving ", options_.registered_model, ref)));
      version = body["model_version"].value("version", "");
    } else {
      version = ref;
    }
    if (version.empty() || version.find_first_not_of("0123456789") != std::string::npos)
      return absl::InvalidArgumentError(
          absl::StrCat("model reference '", ref, "' did not resolve to a version number"));
    fs::path dir = fs::path(options_.cache_dir) / options_.registered_model / version;
    std::error_code ec;
    if (!fs::exists(dir / ".complete", ec)) {
      FERRY_ASSIGN_OR_RETURN(
          json uri_body,
          GetJson(absl::StrCat("/api/2.0/mlflow/model-versions/get-download-uri?name=", name_q,
                               "&version=", version),
                  absl::StrCat("download URI of ", options_.registered_model, "/", version)));
      std::string uri = uri_body.value("artifact_uri", "");
      FERRY_RETURN_IF_ERROR(Download(uri, dir));
    }
    return ResolvedVersion{.version = version, .path = dir.string()};
  }

 private:
  absl::StatusOr<json> GetJson(const std::string& target, const std::string& what) {
    FERRY_ASSIGN_OR_RETURN(http::ClientResponse r, client_->Send("GET", target));
    if (r.status != 200) return RemoteError(r, what);
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_object())
      return absl::UnavailableError(absl::StrCat(what, ": the tracking server sent non-JSON"));
    return body;
  }

  // Copies every file under `uri` (an mlflow-artifacts URI the registry
  // issued) into `dir` through the artifact proxy; the directory appears
  // complete or not at all (download to a temp dir, then rename).
  absl::Status Download(const std::string& uri, const fs::path& dir) {
    if (!uri.starts_with(kArtifactScheme))
      return absl::FailedPreconditionError(absl::StrCat(
          "model artifacts at '", uri,
          "' are not served by the tracking server's artifact proxy (mlflow-artifacts:/); "
          "start `ferry server` with --artifacts-destination"));
    std::string_view rest = std::string_view(uri).substr(kArtifactScheme.size());
    // mlflow-artifacts://host:port/path or mlflow-artifacts:/path
    if (rest.starts_with("//")) {
      size_t slash = rest.find('/', 2);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }
    while (rest.starts_with("/")) rest.remove_prefix(1);
    FERRY_ASSIGN_OR_RETURN(std::string root, artifacts::CanonicalizeRelativePath(rest));
    fs::path tmp = dir.string() + ".tmp-" + NewHexId();
    std::error_code ec;
    fs::create_directories(tmp, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("cannot create ", tmp.string(), ": ", ec.message()));
    size_t files = 0;
    absl::Status status = CopyTree(root, "", tmp, files);
    if (status.ok()) {
      std::ofstream(tmp / ".complete") << uri << "\n";
      fs::remove_all(dir, ec);
      fs::create_directories(dir.parent_path(), ec);
      fs::rename(tmp, dir, ec);
      if (ec)
        status = absl::InternalError(absl::StrCat("cannot move download into ", dir.string()));
    }
    if (!status.ok()) fs::remove_all(tmp, ec);
    return status;
  }

  absl::Status CopyTree(const std::string& root, const std::string& sub, const fs::path& out,
                        size_t& files) {
    std::string listed = sub.empty() ? root : root + "/" + sub;
    FERRY_ASSIGN_OR_RETURN(json body,
                           GetJson(absl::StrCat("/api/2.0/mlflow-artifacts/artifacts?path=",
                                                PercentEncode(listed, /*keep_slash=*/false)),
                                   absl::StrCat("listing artifacts ", listed)));
    if (!body.contains("files")) return absl::OkStatus();
    for (const json& entry : body["files"]) {
      std::string path = entry.value("path", "");
      // Entries are relative to the listed directory or to the root,
      // depending on the server; the last segment is all we need.
      std::string base =
          path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
      std::string rel_in = sub.empty() ? base : sub + "/" + base;
      FERRY_ASSIGN_OR_RETURN(std::string rel, artifacts::CanonicalizeRelativePath(rel_in));
      if (entry.value("is_dir", false)) {
        std::error_code ec;
        fs::create_directories(out / rel, ec);
        FERRY_RETURN_IF_ERROR(CopyTree(root, rel, out, files));
        continue;
      }
      if (++files > kMaxDownloadFiles)
        return absl::FailedPreconditionError(
            absl::StrCat("model has more than ", kMaxDownloadFiles, " files"));
      FERRY_ASSIGN_OR_RETURN(
          http::ClientResponse r,
          client_->Send("GET", absl::StrCat("/api/2.0/mlflow-artifacts/artifacts/",
                                            PercentEncode(root + "/" + rel, /*keep_slash=*/true))));
      if (r.status != 200) return RemoteError(r, absl::StrCat("downloading ", rel));
      std::ofstream file(out / rel, std::ios::binary);
      file.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
      if (!file) return absl::InternalError(absl::StrCat("cannot write ", (out / rel).string()));
    }
    return absl::OkStatus();
  }

  RegistrySourceOptions options_;
  std::unique_ptr<http::Client> client_;
};

class RepositorySource : public ModelSource {
 public:
  RepositorySource(std::shared_ptr<const repository::ModelRepository> repository, std::string model)
      : repository_(std::move(repository)), model_(std::move(model)) {}

  std::string Describe() const override { return absl::StrCat("repository model ", model_); }
  std::string DefaultRef() const override { return ""; }

  absl::StatusOr<ResolvedVersion> Resolve(const std::string& ref) override {
    FERRY_ASSIGN_OR_RETURN(repository::RepositoryModel model, repository_->Load(model_));
    if (model.versions.empty())
      return absl::NotFoundError(absl::StrCat("model '", model_, "' has no version to serve"));
    size_t index = model.versions.size() - 1;  // newest served version
    if (!ref.empty()) {
      index = model.versions.size();
      for (size_t i = 0; i < model.versions.size(); ++i)
        if (std::to_string(model.versions[i].version) == ref) index = i;
      if (index == model.versions.size())
        return absl::NotFoundError(
            absl::StrCat("model '", model_, "' has no served version '", ref, "'"));
    }
    return ResolvedVersion{
        .version = std::to_string(model.versions[index].version),
        .path = model.versions[index].path,
        .format = repository::FormatFromConfig(model.config),
        .config = model.config_path.empty() ? std::nullopt : std::optional(model.config)};
  }

 private:
  std::shared_ptr<const repository::ModelRepository> repository_;
  std::string model_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ModelSource>> CreateRegistrySource(
    const RegistrySourceOptions& options) {
  if (options.tracking_uri.empty())
    return absl::InvalidArgumentError(
        "a registry model needs a tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI");
  if (options.cache_dir.empty()) return absl::InvalidArgumentError("cache_dir is empty");
  FERRY_ASSIGN_OR_RETURN(auto client, http::Client::Create({.base_url = options.tracking_uri}));
  return std::make_unique<RegistrySource>(options, std::move(client));
}

absl::StatusOr<std::unique_ptr<ModelSource>> CreateRepositorySource(
    std::shared_ptr<const repository::ModelRepository> repository, std::string model) {
  return std::make_unique<RepositorySource>(std::move(repository), std::move(model));
}

absl::StatusOr<ModelReference> ParseModelReference(const std::string& spec) {
  ModelReference ref;
  std::string uri = spec;
  size_t eq = spec.find('=');
  if (eq != std::string::npos) {
    ref.served_name = spec.substr(0, eq);
    uri = spec.substr(eq + 1);
  }
  constexpr std::string_view kPrefix = "models:/";
  if (!uri.starts_with(kPrefix))
    return absl::InvalidArgumentError(absl::StrCat(
        "--model '", spec, "': expected NAME=models:/MODEL@ALIAS or NAME=models:/MODEL/VERSION"));
  std::string rest = uri.substr(kPrefix.size());
  size_t at = rest.rfind('@');
  size_t slash = rest.rfind('/');
  if (at != std::string::npos) {
    ref.registered_model = rest.substr(0, at);
    ref.ref = rest.substr(at);
  } else if (slash != std::string::npos) {
    ref.registered_model = rest.substr(0, slash);
    ref.ref = rest.substr(slash + 1);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--model '", spec, "': name an alias (@champion) or a version (/3)"));
  }
  if (ref.registered_model.empty() || ref.ref.empty() || ref.ref == "@")
    return absl::InvalidArgumentError(absl::StrCat("--model '", spec, "': empty model or alias"));
  if (ref.ref[0] != '@' && ref.ref.find_first_not_of("0123456789") != std::string::npos)
    return absl::InvalidArgumentError(
        absl::StrCat("--model '", spec, "': version '", ref.ref, "' is not a number"));
  if (ref.served_name.empty()) ref.served_name = ref.registered_model;
  if (!ValidServedName(ref.served_name))
    return absl::InvalidArgumentError(
        absl::StrCat("--model '", spec, "': served name '", ref.served_name,
                     "' must be 1-256 characters of letters, digits, '_', '-', '.'"));
  return ref;
}

}  // namespace ferry::serving
