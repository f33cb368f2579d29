#include "ferry/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "ferry/http/client.h"
#include "gtest/gtest.h"

namespace ferry::http {
namespace {

class UploadCollector : public BodySink {
 public:
  explicit UploadCollector(std::string* out) : out_(out) {}
  absl::Status Write(std::string_view chunk) override {
    if (chunk.find("REJECT") != std::string_view::npos)
      return absl::InvalidArgumentError("rejected chunk");
    out_->append(chunk);
    return absl::OkStatus();
  }
  Response Finish() override {
    return Response::Json(200, "{\"bytes\":" + std::to_string(out_->size()) + "}");
  }
  void Abort() override { out_->clear(); }

 private:
  std::string* out_;
};

// Every test runs against both threading modes (shared io_context and
// connections partitioned among per-thread contexts).
class ServerTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    router_.Add("GET", "/hello", [](Request&) { return Response::Text(200, "hi"); });
    router_.Add("POST", "/echo", [](Request& r) { return Response::Text(200, r.body); });
    router_.Add("GET", "/items/{id}/parts/{*rest}", [](Request& r) {
      return Response::Text(
          200, std::string(r.PathParam("id")) + "|" + std::string(r.PathParam("rest")));
    });
    router_.AddAsync("POST", "/async/{mode}", [this](Request& r, Responder respond) {
      std::string mode(r.PathParam("mode"));
      if (mode == "inline") return respond(Response::Text(200, "inline:" + r.body));
      if (mode == "throw") throw std::runtime_error("boom");
      // Answer later from another thread, twice (the second call is ignored).
      async_threads_.emplace_back([body = r.body, respond] {
        respond(Response::Text(202, "later:" + body));
        respond(Response::Text(500, "ignored"));
      });
    });
    router_.Add("GET", "/items/list", [](Request&) { return Response::Text(200, "list"); });
    router_.Add("GET", "/slow", [this](Request&) {
      slow_started_.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return Response::Text(200, "slow done");
    });
    router_.Add("GET", "/file", [this](Request&) {
      Response r;
      r.content_type = "application/octet-stream";
      r.file_path = file_path_;
      return r;
    });
    router_.AddStream("PUT", "/upload/{*path}",
                      [this](Request&) -> absl::StatusOr<std::unique_ptr<BodySink>> {
                        return std::make_unique<UploadCollector>(&uploaded_);
                      });
    file_path_ =
        (std::filesystem::temp_directory_path() / ("ferry_http_test_" + std::to_string(getpid())))
            .string();
    std::ofstream(file_path_, std::ios::binary) << std::string(3 * 1024 * 1024 + 7, 'z');
    ServerOptions options{.port = 0,
                          .io_threads = 2,
                          .max_header_bytes = 4096,
                          .max_body_bytes = 1024,
                          .max_stream_body_bytes = 8 * 1024 * 1024,
                          .read_timeout = std::chrono::milliseconds(1000),
                          .idle_timeout = std::chrono::milliseconds(1500),
                          .access_log = false,
                          .partition_connections = GetParam()};
    server_ = Server::Create(options, &router_).value();
    server_->Start();
  }
  void TearDown() override {
    for (auto& t : async_threads_) t.join();
    server_->Shutdown();
    std::filesystem::remove(file_path_);
  }
  std::unique_ptr<Client> NewClient() {
    return Client::Create({.base_url = "http://127.0.0.1:" + std::to_string(server_->port())})
        .value();
  }
  int RawConnect() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  }

  Router router_;
  std::unique_ptr<Server> server_;
  std::string uploaded_;
  std::string file_path_;
  std::atomic<bool> slow_started_{false};
  std::vector<std::thread> async_threads_;
};

TEST_P(ServerTest, AsyncRoutesAnswerInlineFromOtherThreadsOrAfterAThrow) {
  auto client = NewClient();
  for (int i = 0; i < 20; ++i) {
    auto later = client->Send("POST", "/async/later", "x" + std::to_string(i), "text/plain");
    ASSERT_TRUE(later.ok()) << later.status();
    EXPECT_EQ(later->status, 202);
    EXPECT_EQ(later->body, "later:x" + std::to_string(i));
  }
  auto inline_response = client->Send("POST", "/async/inline", "y", "text/plain").value();
  EXPECT_EQ(inline_response.status, 200);
  EXPECT_EQ(inline_response.body, "inline:y");
  EXPECT_EQ(client->Send("POST", "/async/throw", "z", "text/plain").value().status, 500);
  EXPECT_EQ(client->Send("GET", "/async/later").value().status, 405);
}

TEST_P(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto client = NewClient();
  for (int i = 0; i < 50; ++i) {
    auto r = client->Send("GET", "/hello");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hi");
  }
}

TEST_P(ServerTest, RequestIdIsHonouredOrGenerated) {
  auto client = NewClient();
  auto r = client->Send("GET", "/hello", "", "", {{"X-Request-Id", "abc-123"}}).value();
  bool found = false;
  for (auto& [k, v] : r.headers) found = found || (k == "X-Request-Id" && v == "abc-123");
  EXPECT_TRUE(found);
  r = client->Send("GET", "/hello").value();
  std::string generated;
  for (auto& [k, v] : r.headers)
    if (k == "X-Request-Id") generated = v;
  EXPECT_EQ(generated.size(), 32u);
}

TEST_P(ServerTest, PathParamsAndLiteralPrecedence) {
  auto client = NewClient();
  EXPECT_EQ(client->Send("GET", "/items/7/parts/a/b%20c").value().body, "7|a/b%20c");
  EXPECT_EQ(client->Send("GET", "/items/7/parts/").value().body, "7|");
  EXPECT_EQ(client->Send("GET", "/items/list").value().body, "list");
}

TEST_P(ServerTest, UnknownRouteIs404AndWrongMethodIs405) {
  auto client = NewClient();
  auto r = client->Send("GET", "/nope").value();
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  EXPECT_EQ(client->Send("DELETE", "/hello").value().status, 405);
}

TEST_P(ServerTest, OversizedBodyIs413) {
  auto client = NewClient();
  EXPECT_EQ(client->Send("POST", "/echo", std::string(1024, 'a')).value().status, 200);
  auto r = client->Send("POST", "/echo", std::string(1025, 'a')).value();
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("1024"), std::string::npos);
  // The server still answers afterwards.
  EXPECT_EQ(NewClient()->Send("GET", "/hello").value().status, 200);
}

TEST_P(ServerTest, OversizedHeaderIs431) {
  auto client = NewClient();
  auto r = client->Send("GET", "/hello", "", "", {{"X-Big", std::string(8000, 'h')}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 431);
}

TEST_P(ServerTest, MalformedRequestIs400) {
  int fd = RawConnect();
  std::string garbage = "THIS IS NOT HTTP\r\n\r\n";
  ASSERT_EQ(write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(std::string(buf, n).starts_with("HTTP/1.1 400"));
  close(fd);
}

TEST_P(ServerTest, SlowClientIsDisconnected) {
  int fd = RawConnect();
  std::string partial = "GET /hello HTTP/1.1\r\nHost: x\r\n";  // never finishes its headers
  ASSERT_EQ(write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[64];
  // The server closes the connection (read returns 0 or reset) rather than
  // holding it forever; SO_RCVTIMEO only bounds a broken server.
  ssize_t n = read(fd, buf, sizeof buf);
  EXPECT_LE(n, 0);
  EXPECT_FALSE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << "server never closed";
  close(fd);
}

TEST_P(ServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  int fd = RawConnect();
  std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(std::string(buf, n).starts_with("HTTP/1.1 200")) << std::string(buf, n);
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  n = read(fd, buf, sizeof buf);  // nothing more is sent: the server closes
  EXPECT_LE(n, 0);
  EXPECT_FALSE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << "server never closed";
  close(fd);
  EXPECT_EQ(NewClient()->Send("GET", "/hello").value().status, 200);
}

TEST_P(ServerTest, StreamingUploadAndDownload) {
  auto client = NewClient();
  std::string payload(5 * 1024 * 1024 + 3, 'q');
  auto r = client->Send("PUT", "/upload/a/b.bin", payload, "application/octet-stream").value();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(uploaded_.size(), payload.size());
  auto d = client->Send("GET", "/file").value();
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body.size(), 3u * 1024 * 1024 + 7);
}

TEST_P(ServerTest, StreamingUploadOverLimitIs413AndSinkRejectionIs400) {
  // The limit is checked against Content-Length before any body byte is read.
  int fd = RawConnect();
  std::string head = "PUT /upload/x HTTP/1.1\r\nHost: x\r\nContent-Length: 9437184\r\n\r\n";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(std::string(buf, n).starts_with("HTTP/1.1 413")) << std::string(buf, n);
  close(fd);
  auto client = NewClient();
  auto r = client->Send("PUT", "/upload/x", "abcREJECTdef", "application/octet-stream").value();
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(uploaded_.empty());
}

TEST_P(ServerTest, ShutdownDrainsInFlightRequests) {
  auto result =
      std::async(std::launch::async, [this] { return NewClient()->Send("GET", "/slow"); });
  while (!slow_started_.load()) {
    // A failed /slow request would otherwise leave this loop waiting forever.
    ASSERT_NE(result.wait_for(std::chrono::milliseconds(5)), std::future_status::ready)
        << "/slow answered before its handler started: " << result.get().status();
  }
  auto idle = NewClient();
  ASSERT_EQ(idle->Send("GET", "/hello").value().status, 200);  // an idle keep-alive connection
  server_->Shutdown();
  auto r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slow done");
  EXPECT_EQ(server_->active_connections(), 0);
  // New connections are refused after shutdown.
  EXPECT_FALSE(NewClient()->Send("GET", "/hello").ok());
}

INSTANTIATE_TEST_SUITE_P(ThreadingModes, ServerTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Partitioned" : "Shared";
                         });

}  // namespace
}  // namespace ferry::http
