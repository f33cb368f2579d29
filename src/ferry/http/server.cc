#include "ferry/http/server.h"

#include <pthread.h>
#include <signal.h>

#include <array>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ferry/common/clock.h"
#include "ferry/common/ids.h"
#include "ferry/common/logging.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace ferry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

Response ErrorResponse(int status, std::string_view message) {
  return Response::Json(status, nlohmann::json{{"error", message}}.dump());
}

constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

// Per-connection bookkeeping so Shutdown() can close idle keep-alive
// connections and the sweeper can enforce timeouts. `socket` is touched only
// on the connection's executor; `busy` and `deadline_us` from any thread.
struct Connection {
  tcp::socket* socket = nullptr;
  std::atomic<bool> busy{false};
  // Steady-clock microseconds after which the pending read or write is
  // abandoned and the connection closed; kNoDeadline while a handler runs.
  std::atomic<int64_t> deadline_us{kNoDeadline};

  void ExpireAfter(std::chrono::milliseconds timeout) {
    deadline_us.store(Clock::Real()->MonotonicMicros() + timeout.count() * 1000,
                      std::memory_order_relaxed);
  }
  void NoDeadline() { deadline_us.store(kNoDeadline, std::memory_order_relaxed); }
};

// Closes the socket when `conn` still has it; run on the connection's
// executor. Pending operations complete with operation_aborted.
void CloseSocket(Connection& conn) {
  if (conn.socket == nullptr) return;
  beast::error_code ec;
  conn.socket->shutdown(tcp::socket::shutdown_both, ec);
  conn.socket->close(ec);
}

std::chrono::milliseconds SweepInterval(const ServerOptions& options) {
  auto interval = std::min(options.read_timeout, options.idle_timeout) / 4;
  return std::clamp<std::chrono::milliseconds>(interval, std::chrono::milliseconds(5),
                                               std::chrono::milliseconds(1000));
}

}  // namespace

class Server::Impl {
 public:
  Impl(const ServerOptions& options, const Router* router)
      : options_(options),
        router_(router),
        contexts_(MakeContexts(options)),
        acceptor_(*contexts_.front()),
        sweep_timer_(*contexts_.front()) {}

  absl::Status Listen() {
    beast::error_code ec;
    auto address =
        asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
    if (ec)
      return absl::InvalidArgumentError("invalid --host '" + options_.host + "': " + ec.message());
    tcp::endpoint endpoint(address, static_cast<uint16_t>(options_.port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError("cannot listen on " + options_.host + ":" +
                                    std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return absl::OkStatus();
  }

  void Start() {
    asio::co_spawn(*contexts_.front(), Accept(), asio::detached);
    asio::co_spawn(*contexts_.front(), Sweep(), asio::detached);
    for (auto& context : contexts_) work_guards_.emplace_back(context->get_executor());
    const int threads = std::max(1, options_.io_threads);
    for (int i = 0; i < threads; ++i) {
      asio::io_context& context = *contexts_[options_.partition_connections ? i : 0];
      threads_.emplace_back([&context] { context.run(); });
    }
  }

  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_started_) return;
      shutdown_started_ = true;
    }
    draining_.store(true);
    asio::post(*contexts_.front(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      sweep_timer_.cancel();
    });
    CloseIdleConnections();
    auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (active_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        cv_.wait_for(lock, std::chrono::milliseconds(50));
        lock.unlock();
        CloseIdleConnections();
        lock.lock();
      }
    }
    if (active_.load() > 0) {
      spdlog::warn("drain deadline passed with {} connections open; closing them", active_.load());
    }
    for (auto& context : contexts_) context->stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    // The close posted above may not have run before the stop (a busy or
    // already idle acceptor thread): close here, with no thread left running,
    // so the port refuses connections once Shutdown() returns.
    {
      beast::error_code ec;
      acceptor_.close(ec);
    }
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stopped_; });
  }

  int port() const { return port_; }
  int64_t active() const { return active_.load(); }

 private:
  void CloseIdleConnections() {
    std::lock_guard<std::mutex> lock(conn_mu_);
    for (auto& [id, entry] : connections_) {
      auto conn = entry.first;
      asio::post(entry.second, [conn] {
        if (!conn->busy.load()) CloseSocket(*conn);
      });
    }
  }

  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(const ServerOptions& options) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    const int threads = std::max(1, options.io_threads);
    if (options.partition_connections) {
      for (int i = 0; i < threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
    } else {
      contexts.push_back(std::make_unique<asio::io_context>(threads));
    }
    return contexts;
  }

  // Where the next accepted connection lives: a strand of the shared
  // context, or the next thread's own context.
  asio::any_io_executor NextExecutor() {
    if (!options_.partition_connections) return asio::make_strand(*contexts_.front());
    return contexts_[next_context_++ % contexts_.size()]->get_executor();
  }

  // Closes connections whose read or write deadline has passed.
  asio::awaitable<void> Sweep() {
    const auto interval = SweepInterval(options_);
    for (;;) {
      sweep_timer_.expires_after(interval);
      beast::error_code ec;
      co_await sweep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || draining_.load()) co_return;
      const int64_t now_us = Clock::Real()->MonotonicMicros();
      std::lock_guard<std::mutex> lock(conn_mu_);
      for (auto& [id, entry] : connections_) {
        if (entry.first->deadline_us.load(std::memory_order_relaxed) >= now_us) continue;
        asio::post(entry.second, [conn = entry.first] {
          // The session may have moved on (new deadline) since the check.
          if (conn->deadline_us.load(std::memory_order_relaxed) <
              Clock::Real()->MonotonicMicros()) {
            CloseSocket(*conn);
          }
        });
      }
    }
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      beast::error_code ec;
      auto executor = NextExecutor();
      tcp::socket socket(executor);
      co_await acceptor_.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (draining_.load() || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(executor, Session(std::move(socket)), asio::detached);
    }
  }

  template <typename Message>
  asio::awaitable<bool> Write(tcp::socket& stream, Connection& conn, Message& msg) {
    beast::error_code ec;
    conn.ExpireAfter(options_.read_timeout);
    co_await bhttp::async_write(stream, msg, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    active_.fetch_add(1);
    auto conn = std::make_shared<Connection>();
    uint64_t conn_id = next_conn_id_.fetch_add(1);
    tcp::socket stream(std::move(socket));
    conn->socket = &stream;
    {
      std::lock_guard<std::mutex> lock(conn_mu_);
      connections_.emplace(conn_id, std::make_pair(conn, stream.get_executor()));
    }
    std::string remote;
    {
      beast::error_code ec;
      auto ep = stream.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    beast::flat_buffer buffer;
    bool first = true;
    for (;;) {
      if (draining_.load()) break;
      bool keep_alive = co_await ServeOne(stream, buffer, *conn, remote, first);
      first = false;
      conn->busy.store(false);
      if (!keep_alive) break;
    }
    beast::error_code ec;
    stream.shutdown(tcp::socket::shutdown_send, ec);
    {
      std::lock_guard<std::mutex> lock(conn_mu_);
      conn->socket = nullptr;
      connections_.erase(conn_id);
    }
    if (active_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }

  // Serves one request; returns whether the connection stays open.
  asio::awaitable<bool> ServeOne(tcp::socket& stream, beast::flat_buffer& buffer, Connection& conn,
                                 const std::string& remote, bool first) {
    beast::error_code ec;
    bhttp::request_parser<bhttp::empty_body> header_parser;
    header_parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    header_parser.body_limit(std::numeric_limits<uint64_t>::max());  // checked per route below
    conn.ExpireAfter(first || buffer.size() > 0 ? options_.read_timeout : options_.idle_timeout);
    co_await bhttp::async_read_header(stream, buffer, header_parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::bad_descriptor) {
      co_return false;
    }
    conn.busy.store(true);
    int64_t start_us = Clock::Real()->MonotonicMicros();
    Request request;
    request.remote_address = remote;
    Response response;
    unsigned version = 11;
    bool keep_alive = false;
    if (ec) {
      // Malformed or oversized headers: answer and close.
      response = ec == bhttp::error::header_limit
                     ? ErrorResponse(431, "request header fields too large (limit " +
                                              std::to_string(options_.max_header_bytes) + " bytes)")
                     : ErrorResponse(400, "malformed HTTP request: " + ec.message());
    } else {
      auto& header = header_parser.get();
      version = header.version();
      keep_alive = header.keep_alive();
      request.method = std::string(header.method_string());
      request.target = std::string(header.target());
      size_t qmark = request.target.find('?');
      request.path = request.target.substr(0, qmark);
      if (qmark != std::string::npos) request.query = request.target.substr(qmark + 1);
      for (const auto& field : header) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      request.request_id = std::string(request.Header("X-Request-Id"));
      if (request.request_id.empty() || request.request_id.size() > 128)
        request.request_id = NewRequestId();

      Router::Match match = router_->Find(request);
      bool expects_continue = beast::iequals(header[bhttp::field::expect], "100-continue");
      if (match.stream != nullptr) {
        response = co_await ReadStreamed(stream, conn, buffer, header_parser, request,
                                         *match.stream, expects_continue, keep_alive);
      } else {
        bool body_ok = true;
        bool has_body = !header_parser.is_done();
        if (has_body) {
          auto content_length = header_parser.content_length();
          if (content_length && *content_length > options_.max_body_bytes) {
            response = ErrorResponse(413, "request body of " + std::to_string(*content_length) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(options_.max_body_bytes) + " bytes");
            body_ok = false;
            keep_alive = false;
          } else {
            if (expects_continue) {
              bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
              co_await Write(stream, conn, cont);
            }
            bhttp::request_parser<bhttp::string_body> body_parser(std::move(header_parser));
            body_parser.body_limit(options_.max_body_bytes);
            conn.ExpireAfter(options_.read_timeout);
            co_await bhttp::async_read(stream, buffer, body_parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
              body_ok = false;
              keep_alive = false;
              if (ec == bhttp::error::body_limit) {
                response =
                    ErrorResponse(413, "request body exceeds the limit of " +
                                           std::to_string(options_.max_body_bytes) + " bytes");
              } else {
                co_return false;  // timeout or disconnect mid-body: nobody to answer
              }
            } else {
              request.body = std::move(body_parser.get().body());
            }
          }
        }
        conn.NoDeadline();  // handlers take as long as they take
        if (body_ok) {
          const Handler* handler = match.handler;
          if (match.async != nullptr) {
            response = co_await RunAsync(*match.async, request);
          } else if (handler == nullptr && match.method_not_allowed) {
            response =
                ErrorResponse(405, "method " + request.method + " not allowed for " + request.path);
          } else {
            if (handler == nullptr) handler = &router_->not_found();
            try {
              response = (*handler)(request);
            } catch (const std::exception& e) {
              spdlog::error("handler for {} {} threw: {}", request.method, request.path, e.what());
              response = ErrorResponse(500, "internal error");
            }
          }
        }
      }
    }
    if (draining_.load()) keep_alive = false;
    size_t bytes_out = 0;
    bool written =
        co_await SendResponse(stream, conn, request, response, version, keep_alive, bytes_out);
    if (options_.access_log) {
      LogAccess({.method = request.method,
                 .target = request.target,
                 .remote = remote,
                 .request_id = request.request_id,
                 .status = response.status,
                 .bytes_out = bytes_out,
                 .latency_ms = (Clock::Real()->MonotonicMicros() - start_us) / 1000.0});
    }
    co_return written&& keep_alive;
  }

  // Suspends the session until the async handler responds; the response is
  // handed back to the session's strand.
  static asio::awaitable<Response> RunAsync(const AsyncHandler& handler, Request& request) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
        [&handler, &request](auto completion) {
          using Completion = decltype(completion);
          struct State {
            std::atomic<bool> done{false};
            std::optional<Completion> completion;
          };
          auto state = std::make_shared<State>();
          state->completion.emplace(std::move(completion));
          Responder respond = [state](Response response) {
            if (state->done.exchange(true)) return;
            Completion c = std::move(*state->completion);
            state->completion.reset();
            auto executor = asio::get_associated_executor(c);
            // defer: from an I/O thread (inline execution) the completion stays
            // on that thread instead of waking another one.
            asio::defer(executor, [c = std::move(c), response = std::move(response)]() mutable {
              std::move(c)(std::move(response));
            });
          };
          try {
            handler(request, respond);
          } catch (const std::exception& e) {
            spdlog::error("async handler for {} {} threw: {}", request.method, request.path,
                          e.what());
            respond(ErrorResponse(500, "internal error"));
          }
        },
        asio::use_awaitable);
  }

  asio::awaitable<Response> ReadStreamed(tcp::socket& stream, Connection& conn,
                                         beast::flat_buffer& buffer,
                                         bhttp::request_parser<bhttp::empty_body>& header_parser,
                                         Request& request, const StreamHandler& handler,
                                         bool expects_continue, bool& keep_alive) {
    auto content_length = header_parser.content_length();
    if (content_length && *content_length > options_.max_stream_body_bytes) {
      keep_alive = false;
      co_return ErrorResponse(413, "upload of " + std::to_string(*content_length) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(options_.max_stream_body_bytes) + " bytes");
    }
    absl::StatusOr<std::unique_ptr<BodySink>> sink_or;
    try {
      sink_or = handler(request);
    } catch (const std::exception& e) {
      spdlog::error("stream handler for {} threw: {}", request.path, e.what());
      sink_or = absl::InternalError("internal error");
    }
    if (!sink_or.ok()) {
      keep_alive = false;  // the unread body would desynchronise the stream
      co_return router_->FormatError(sink_or.status());
    }
    std::unique_ptr<BodySink> sink = std::move(*sink_or);
    if (expects_continue) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_,
                                              header_parser.get().version()};
      co_await Write(stream, conn, cont);
    }
    bhttp::request_parser<bhttp::buffer_body> parser(std::move(header_parser));
    parser.body_limit(options_.max_stream_body_bytes);
    std::vector<char> chunk(256 * 1024);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      beast::error_code ec;
      conn.ExpireAfter(options_.read_timeout);
      co_await bhttp::async_read_some(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        sink->Abort();
        keep_alive = false;
        if (ec == bhttp::error::body_limit) {
          co_return ErrorResponse(413, "upload exceeds the limit of " +
                                           std::to_string(options_.max_stream_body_bytes) +
                                           " bytes");
        }
        co_return ErrorResponse(400, "upload interrupted: " + ec.message());
      }
      size_t got = chunk.size() - parser.get().body().size;
      if (got > 0) {
        absl::Status st = sink->Write(std::string_view(chunk.data(), got));
        if (!st.ok()) {
          sink->Abort();
          keep_alive = false;
          co_return router_->FormatError(st);
        }
      }
    }
    conn.NoDeadline();
    co_return sink->Finish();
  }

  asio::awaitable<bool> SendResponse(tcp::socket& stream, Connection& conn, const Request& request,
                                     Response& response, unsigned version, bool keep_alive,
                                     size_t& bytes_out) {
    auto fill = [&](auto& msg) {
      msg.version(version);
      msg.result(static_cast<unsigned>(response.status));
      msg.set(bhttp::field::server, "ferry");
      msg.set(bhttp::field::content_type, response.content_type);
      if (!request.request_id.empty()) msg.set("X-Request-Id", request.request_id);
      for (const auto& [k, v] : response.headers) msg.set(k, v);
      msg.keep_alive(keep_alive);
    };
    if (!response.file_path.empty()) {
      bhttp::response<bhttp::file_body> msg;
      beast::error_code ec;
      msg.body().open(response.file_path.c_str(), beast::file_mode::scan, ec);
      if (!ec) {
        fill(msg);
        msg.prepare_payload();
        bytes_out = msg.body().size();
        co_return co_await Write(stream, conn, msg);
      }
      response = ErrorResponse(404, "file vanished before it could be sent");
    }
    // String bodies: the head is formatted here and written with the body in
    // one gather write (Beast's serializer allocated a node per header field
    // and walked a buffer-sequence variant per write: ~1 us per response).
    bytes_out = response.body.size();
    std::string head = FormatHead(request, response, version, keep_alive);
    std::array<asio::const_buffer, 2> buffers = {asio::buffer(head), asio::buffer(response.body)};
    if (request.method == "HEAD") buffers[1] = asio::const_buffer();
    beast::error_code ec;
    conn.ExpireAfter(options_.read_timeout);
    co_await asio::async_write(stream, buffers, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  // Status line and headers of a response with a string body, as Beast's
  // serializer would write them (Content-Length; "Connection: close" when the
  // connection ends, "Connection: keep-alive" for an HTTP/1.0 client kept
  // open). CR and LF in handler-supplied values become spaces, so no value
  // can inject a header.
  static std::string FormatHead(const Request& request, const Response& response, unsigned version,
                                bool keep_alive) {
    std::string head;
    head.reserve(160 + request.request_id.size() + response.content_type.size());
    head.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    head.append(std::to_string(response.status));
    head.push_back(' ');
    beast::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(response.status));
    head.append(reason.data(), reason.size());
    auto field = [&head](std::string_view name, std::string_view value) {
      head.append(name);
      head.append(": ");
      const size_t start = head.size();
      head.append(value);
      for (size_t i = start; i < head.size(); ++i) {
        if (head[i] == '\r' || head[i] == '\n') head[i] = ' ';
      }
      head.append("\r\n");
    };
    head.append("\r\n");
    field("Server", "ferry");
    field("Content-Type", response.content_type);
    if (!request.request_id.empty()) field("X-Request-Id", request.request_id);
    for (const auto& [name, value] : response.headers) field(name, value);
    field("Content-Length", std::to_string(response.body.size()));
    if (!keep_alive && version >= 11) field("Connection", "close");
    if (keep_alive && version < 11) field("Connection", "keep-alive");
    head.append("\r\n");
    return head;
  }

  ServerOptions options_;
  const Router* router_;
  // One shared context, or one per thread (partition_connections).
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_guards_;
  size_t next_context_ = 0;  // Accept() only
  tcp::acceptor acceptor_;
  asio::steady_timer sweep_timer_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> active_{0};
  std::atomic<uint64_t> next_conn_id_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_started_ = false;
  bool stopped_ = false;
  std::mutex conn_mu_;
  std::unordered_map<uint64_t, std::pair<std::shared_ptr<Connection>, asio::any_io_executor>>
      connections_;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options,
                                                       const Router* router) {
  if (options.io_threads < 1 || options.io_threads > 1024) {
    return absl::InvalidArgumentError("io_threads must be between 1 and 1024, got " +
                                      std::to_string(options.io_threads));
  }
  auto impl = std::make_unique<Impl>(options, router);
  absl::Status st = impl->Listen();
  if (!st.ok()) return st;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Shutdown(); }
void Server::Start() { impl_->Start(); }
void Server::Shutdown() { impl_->Shutdown(); }
void Server::Wait() { impl_->Wait(); }
int Server::port() const { return impl_->port(); }
int64_t Server::active_connections() const { return impl_->active(); }

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace ferry::http
