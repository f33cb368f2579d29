#include "ferry/http/router.h"

#include "nlohmann/json.hpp"

namespace ferry::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  if (!path.empty() && path.front() == '/') start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      break;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

Response DefaultNotFound(Request& request) {
  return Response::Json(
      404, nlohmann::json{{"error", "no route for " + request.method + " " + request.path}}.dump());
}

Response DefaultError(const absl::Status& status) {
  int code = status.code() == absl::StatusCode::kInvalidArgument      ? 400
             : status.code() == absl::StatusCode::kNotFound           ? 404
             : status.code() == absl::StatusCode::kPermissionDenied   ? 403
             : status.code() == absl::StatusCode::kFailedPrecondition ? 400
                                                                      : 500;
  return Response::Json(code, nlohmann::json{{"error", std::string(status.message())}}.dump());
}

}  // namespace

Router::Router() : not_found_(DefaultNotFound), error_formatter_(DefaultError) {}

void Router::AddRoute(Route route) {
  for (const auto& seg : route.segments)
    route.literal = route.literal && !(!seg.empty() && seg.front() == '{');
  routes_.push_back(std::move(route));
}

void Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  Route route{.method = std::string(method), .handler = std::move(handler)};
  for (auto part : SplitPath(pattern)) route.segments.emplace_back(part);
  AddRoute(std::move(route));
}

void Router::AddStream(std::string_view method, std::string_view pattern, StreamHandler handler) {
  Route route{.method = std::string(method), .stream = std::move(handler)};
  for (auto part : SplitPath(pattern)) route.segments.emplace_back(part);
  AddRoute(std::move(route));
}

void Router::AddAsync(std::string_view method, std::string_view pattern, AsyncHandler handler) {
  Route route{.method = std::string(method), .async = std::move(handler)};
  for (auto part : SplitPath(pattern)) route.segments.emplace_back(part);
  AddRoute(std::move(route));
}

bool Router::MatchRoute(const Route& route, const std::vector<std::string_view>& parts,
                        Bindings& bound) {
  bound.clear();
  size_t i = 0;
  for (; i < route.segments.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (seg.starts_with("{*") && seg.back() == '}') {
      std::string rest;
      for (size_t j = i; j < parts.size(); ++j) {
        if (j > i) rest.push_back('/');
        rest.append(parts[j]);
      }
      bound.emplace_back(seg.substr(2, seg.size() - 3), std::move(rest));
      return true;
    }
    if (i >= parts.size()) return false;
    if (IsParam(seg)) {
      if (parts[i].empty()) return false;
      bound.emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return i == parts.size();
}

Router::Match Router::Find(Request& request) const {
  auto parts = SplitPath(request.path);
  Match match;
  // Two passes: routes made only of literal segments first, so that
  // "/models/list" wins over "/models/{name}".
  for (int pass = 0; pass < 2; ++pass) {
    Bindings bound;
    for (const Route& route : routes_) {
      if ((pass == 0) != route.literal) continue;
      if (!MatchRoute(route, parts, bound)) continue;
      if (route.method != request.method && !(request.method == "HEAD" && route.method == "GET")) {
        match.method_not_allowed = true;
        continue;
      }
      request.path_params = std::move(bound);
      match.method_not_allowed = false;
      if (route.handler) match.handler = &route.handler;
      if (route.stream) match.stream = &route.stream;
      if (route.async) match.async = &route.async;
      return match;
    }
  }
  return match;
}

}  // namespace ferry::http
