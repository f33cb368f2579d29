#ifndef FERRY_HTTP_HTTP_H_
#define FERRY_HTTP_HTTP_H_

// Transport-neutral request/response types shared by the server, router and
// every API edge. No Beast types leak out of src/ferry/http/*.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ferry::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // raw request target, e.g. "/a/b%20c?x=1"
  std::string path;    // raw (still percent-encoded) path part of target
  std::string query;   // raw query string without '?'
  HeaderList headers;
  std::string body;  // empty for streaming routes (see BodySink)
  std::string remote_address;
  std::string request_id;  // X-Request-Id if the client sent one, else generated
  // Path parameters bound by the router ("{name}" segments, "{*rest}" tail),
  // still percent-encoded.
  std::vector<std::pair<std::string, std::string>> path_params;

  // Case-insensitive header lookup; empty if absent.
  std::string_view Header(std::string_view name) const;
  // Raw (percent-encoded) value of a bound path parameter; empty if absent.
  std::string_view PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HeaderList headers;
  // When set, the body is streamed from this file (absolute path) instead of
  // `body`; the file is opened by the server when it writes the response.
  std::string file_path;

  static Response Json(int status, std::string body);
  static Response Text(int status, std::string body);
};

// Receives a streamed request body chunk by chunk (uploads). Owned by the
// server for the duration of one request. If Write() fails the server stops
// reading, calls Abort() and answers with the status's mapped error.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual absl::Status Write(std::string_view chunk) = 0;
  // All bytes received; produce the response.
  virtual Response Finish() = 0;
  // The client went away or the body was rejected; discard partial data.
  virtual void Abort() = 0;
};

// A route handler. Runs on an I/O thread: it may block briefly (a local
// database call) but must not wait on other requests.
using Handler = std::function<Response(Request&)>;

// Delivers the response of an asynchronous route. Call exactly once, from
// any thread; later calls are ignored.
using Responder = std::function<void(Response)>;

// An asynchronous route (e.g. inference answered by a batcher thread): starts
// the work and returns without blocking; the server sends the response when
// `respond` is called. `request` stays valid until then. If the handler
// throws before responding, the server answers 500.
using AsyncHandler = std::function<void(Request&, Responder respond)>;

// A streaming-upload route: called after headers are read. Returning a
// Response (error) rejects the upload before any body byte is read.
using StreamHandler = std::function<absl::StatusOr<std::unique_ptr<BodySink>>(Request&)>;

}  // namespace ferry::http

#endif  // FERRY_HTTP_HTTP_H_
