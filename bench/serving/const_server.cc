// Transport floor for bench/serving: the cheapest HTTP/1.1 keep-alive server
// the same stack (Boost.Beast + Asio) allows. It answers every POST with one
// constant V2-shaped JSON body and GET /v2/health/ready (or any GET) with 200,
// never looking at the request body, so `ferry serve` throughput divided by
// this one's is the share of the transport ceiling Ferry keeps.
//
// Usage: const_server [--host 127.0.0.1] [--port 8080] [--threads 2]
// Build: see bench/serving/run.sh (g++ -std=c++20 -O2 -pthread, headers only).

// clang-format off
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange
// clang-format on
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr char kInferBody[] =
    R"({"model_name":"xgb","model_version":"1","id":"bench","outputs":)"
    R"([{"name":"predict","datatype":"FP32","shape":[1],"data":[0.9172761]}]})";
constexpr char kReadyBody[] = "";

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(16 * 1024 * 1024);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      Close();
      return;
    }
    const auto& request = parser_->get();
    const bool post = request.method() == http::verb::post;
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    response_.result(http::status::ok);
    response_.set(http::field::content_type, "application/json");
    response_.body() = post ? kInferBody : kReadyBody;
    response_.prepare_payload();
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    if (ec || !response_.keep_alive()) {
      Close();
      return;
    }
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

class Listener {
 public:
  // `contexts` empty: sessions on strands of `io` (shared by every thread);
  // otherwise sessions dealt round robin to the per-thread contexts.
  Listener(asio::io_context& io, std::vector<std::unique_ptr<asio::io_context>>& contexts,
           const tcp::endpoint& endpoint)
      : io_(io), contexts_(contexts), acceptor_(io) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  void Accept() {
    asio::any_io_executor executor =
        contexts_.empty()
            ? asio::any_io_executor(asio::make_strand(io_))
            : asio::any_io_executor(contexts_[next_++ % contexts_.size()]->get_executor());
    acceptor_.async_accept(executor, [this](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true));
        std::make_shared<Session>(std::move(socket))->Start();
      }
      Accept();
    });
  }

 private:
  asio::io_context& io_;
  std::vector<std::unique_ptr<asio::io_context>>& contexts_;
  size_t next_ = 0;
  tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  int threads = 2;
  bool partitioned = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--host" && has_value) {
      host = argv[++i];
    } else if (arg == "--port" && has_value) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else if (arg == "--threads" && has_value) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--partitioned") {
      partitioned = true;
    } else {
      std::fprintf(stderr, "usage: %s [--host H] [--port P] [--threads N] [--partitioned]\n",
                   argv[0]);
      return 2;
    }
  }

  // Shared: every thread runs `io`. Partitioned (as `ferry serve`): each
  // thread runs its own context and owns its connections; the first one also
  // accepts.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  if (partitioned) {
    for (int i = 0; i < threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  }
  asio::io_context shared(threads);
  asio::io_context& io = partitioned ? *contexts[0] : shared;
  Listener listener(io, contexts, tcp::endpoint(asio::ip::make_address(host), port));
  listener.Accept();

  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& context : contexts) guards.emplace_back(context->get_executor());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    io.stop();
    for (auto& context : contexts) context->stop();
  });

  std::fprintf(stderr, "const_server: listening on %s:%u with %d threads%s\n", host.c_str(), port,
               threads, partitioned ? " (partitioned)" : "");
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    asio::io_context& context = partitioned ? *contexts[i] : shared;
    pool.emplace_back([&context] { context.run(); });
  }
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
