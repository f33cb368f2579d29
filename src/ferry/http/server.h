#ifndef FERRY_HTTP_SERVER_H_
#define FERRY_HTTP_SERVER_H_

// The one HTTP/1.1 server every Ferry API runs on (Boost.Beast over Asio,
// C++20 coroutines; Beast stays inside server.cc).
//
// - Keep-alive, `io_threads` threads. Shared mode (default): the threads run
//   one io_context and any of them serves any connection, so a handler that
//   blocks holds only its thread. Partitioned mode: each thread runs its own
//   io_context and owns the connections dealt to it (round robin at accept)
//   for their lifetime: no strand locking or cross-thread wake-up per
//   request, the fastest setup for short non-blocking handlers (`ferry
//   serve`), but a handler that blocks stalls its thread's other connections.
// - Bounded header and body sizes: 431 past max_header_bytes, 413 past
//   max_body_bytes (buffered routes) or max_stream_body_bytes (streaming).
// - Timeouts: a request's headers must arrive within read_timeout; an idle
//   keep-alive connection is closed after idle_timeout; each body chunk must
//   arrive within read_timeout. Deadlines are plain timestamps that one
//   sweeper checks every min(read_timeout, idle_timeout) / 4 (clamped to
//   [5 ms, 1 s]), so a timeout fires up to that much late, and a request
//   costs no timer operations (arming a per-connection timer per read was
//   a timerfd syscall and a timer-queue update each time).
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
  // One io_context per thread, connections partitioned among the threads
  // (see above). Default false: one shared io_context.
  bool partition_connections = false;
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
