#ifndef FERRY_HTTP_CLIENT_H_
#define FERRY_HTTP_CLIENT_H_

// A small blocking HTTP/1.1 client (keep-alive, one connection) for the CLI
// and tests. Not thread-safe: use one Client per thread.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ferry/http/http.h"

namespace ferry::http {

struct ClientResponse {
  int status = 0;
  std::string body;
  HeaderList headers;
};

struct ClientOptions {
  std::string base_url;  // "http://host:port" (no path); https is not supported yet
  std::chrono::milliseconds timeout{30'000};
};

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);
  ~Client();

  // Sends one request; reconnects once if the kept-alive connection was
  // closed by the server. Unavailable if the server cannot be reached.
  absl::StatusOr<ClientResponse> Send(std::string_view method, std::string_view target,
                                      std::string_view body = {},
                                      std::string_view content_type = "application/json",
                                      const HeaderList& headers = {});

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::http

#endif  // FERRY_HTTP_CLIENT_H_
