#ifndef FERRY_HTTP_SERVER_H_
#define FERRY_HTTP_SERVER_H_

// The one HTTP/1.1 server every Ferry API runs on (Boost.Beast over Asio,
// C++20 coroutines; Beast stays inside server.cc).
//
// - Keep-alive, `io_threads` threads running one io_context.
// - Bounded header and body sizes: 431 past max_header_bytes, 413 past
//   max_body_bytes (buffered routes) or max_stream_body_bytes (streaming).
// - Timeouts: a request's headers must arrive within read_timeout; an idle
//   keep-alive connection is closed after idle_timeout; each body chunk must
//   arrive within read_timeout.
// - Shutdown(): stop accepting, let in-flight requests finish (responses
//   then carry "Connection: close"), close idle connections, and return when
//   all are done or the drain deadline passes.
// - One access-log line per request (common/logging.h).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ferry/http/router.h"

namespace ferry::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;        // 0: pick a free port (see Server::port())
  int io_threads = 4;  // threads running the event loop
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 32 * 1024 * 1024;                     // buffered routes
  uint64_t max_stream_body_bytes = 64ull * 1024 * 1024 * 1024;  // uploads
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds drain_timeout{30'000};
  bool access_log = true;
};

class Server {
 public:
  // Binds and listens; requests are served once Start() is called.
  // `router` must outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Create(const ServerOptions& options,
                                                        const Router* router);
  ~Server();

  // Starts the I/O threads and returns immediately.
  void Start();
  // Graceful stop as described above. Idempotent; thread-safe; callable from
  // a signal-watching thread.
  void Shutdown();
  // Blocks until Shutdown() has completed.
  void Wait();

  int port() const;
  int64_t active_connections() const;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Blocks until SIGINT or SIGTERM arrives, then returns the signal number.
// Call from the main thread after blocking those signals in every thread
// (BlockTerminationSignals() before starting any thread).
void BlockTerminationSignals();
int WaitForTerminationSignal();

}  // namespace ferry::http

#endif  // FERRY_HTTP_SERVER_H_
