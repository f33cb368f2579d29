#ifndef FERRY_HTTP_ROUTER_H_
#define FERRY_HTTP_ROUTER_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/http/http.h"

namespace ferry::http {

// Maps (method, path pattern) to handlers. Patterns are '/'-separated;
// a segment "{name}" binds one segment, a final "{*name}" binds the rest of
// the path (possibly empty, possibly containing '/'). Literal segments win
// over parameters. Not thread-safe while adding routes; Match() is
// thread-safe once the server runs.
class Router {
 public:
  Router();
  void Add(std::string_view method, std::string_view pattern, Handler handler);
  void AddStream(std::string_view method, std::string_view pattern, StreamHandler handler);
  void AddAsync(std::string_view method, std::string_view pattern, AsyncHandler handler);
  // Answers requests that match no route (default: 404 JSON {"error": ...}).
  void SetNotFound(Handler handler) { not_found_ = std::move(handler); }
  // Turns a streaming handler's or sink's error Status into a response in
  // the API's own error shape (default: {"error": message} with 400 for
  // InvalidArgument, 404 NotFound, 403 PermissionDenied, else 500).
  using ErrorFormatter = std::function<Response(const absl::Status&)>;
  void SetErrorFormatter(ErrorFormatter formatter) { error_formatter_ = std::move(formatter); }
  Response FormatError(const absl::Status& status) const { return error_formatter_(status); }

  struct Match {
    const Handler* handler = nullptr;       // set for buffered routes
    const StreamHandler* stream = nullptr;  // set for streaming routes
    const AsyncHandler* async = nullptr;    // set for asynchronous routes
    bool method_not_allowed = false;        // path matched, method did not
  };
  // Binds path params into `request.path_params`.
  Match Find(Request& request) const;
  const Handler& not_found() const { return not_found_; }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    StreamHandler stream;
    AsyncHandler async;
    bool literal = true;  // no "{...}" segment: tried before parameterised routes
  };
  using Bindings = std::vector<std::pair<std::string, std::string>>;
  static bool MatchRoute(const Route& route, const std::vector<std::string_view>& parts,
                         Bindings& bound);
  void AddRoute(Route route);

  std::vector<Route> routes_;
  Handler not_found_;
  ErrorFormatter error_formatter_;
};

}  // namespace ferry::http

#endif  // FERRY_HTTP_ROUTER_H_
