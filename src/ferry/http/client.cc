#include "ferry/http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace ferry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class Client::Impl {
 public:
  Impl(ClientOptions options, std::string host, std::string port)
      : options_(std::move(options)), host_(std::move(host)), port_(std::move(port)) {}

  absl::StatusOr<ClientResponse> Send(std::string_view method, std::string_view target,
                                      std::string_view body, std::string_view content_type,
                                      const HeaderList& headers) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool fresh = false;
      if (!stream_) {
        auto st = Connect();
        if (!st.ok()) return st;
        fresh = true;
      }
      beast::error_code ec;
      bhttp::request<bhttp::string_body> req{
          bhttp::string_to_verb(beast::string_view(method.data(), method.size())),
          beast::string_view(target.data(), target.size()), 11};
      req.set(bhttp::field::host, host_);
      req.set(bhttp::field::user_agent, "ferry-cli");
      for (const auto& [k, v] : headers) req.set(k, v);
      if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        req.set(bhttp::field::content_type,
                beast::string_view(content_type.data(), content_type.size()));
        req.body() = std::string(body);
      }
      req.prepare_payload();
      stream_->expires_after(options_.timeout);
      bhttp::write(*stream_, req, ec);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(1ull << 34);
      if (!ec) bhttp::read(*stream_, buffer_, parser, ec);
      if (ec) {
        stream_.reset();
        buffer_.clear();
        if (!fresh) continue;  // the server closed an idle keep-alive connection
        return absl::UnavailableError("request to " + host_ + ":" + port_ +
                                      " failed: " + ec.message());
      }
      auto& res = parser.get();
      ClientResponse out;
      out.status = static_cast<int>(res.result_int());
      for (const auto& f : res)
        out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      out.body = std::move(res.body());
      if (!res.keep_alive()) stream_.reset();
      return out;
    }
    return absl::UnavailableError("request to " + host_ + ":" + port_ + " failed");
  }

 private:
  absl::Status Connect() {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(host_, port_, ec);
    if (ec) return absl::UnavailableError("cannot resolve " + host_ + ": " + ec.message());
    stream_.emplace(ioc_);
    stream_->expires_after(options_.timeout);
    stream_->connect(results, ec);
    if (ec) {
      stream_.reset();
      return absl::UnavailableError("cannot connect to " + host_ + ":" + port_ + ": " +
                                    ec.message());
    }
    stream_->socket().set_option(tcp::no_delay(true), ec);
    return absl::OkStatus();
  }

  ClientOptions options_;
  std::string host_;
  std::string port_;
  asio::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  std::string_view url = options.base_url;
  if (!url.starts_with("http://")) {
    return absl::InvalidArgumentError("tracking URI must start with http:// , got '" +
                                      options.base_url + "'");
  }
  url.remove_prefix(7);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError("tracking URI must not have a path: '" + options.base_url +
                                      "'");
  }
  std::string host(url), port = "80";
  size_t colon = url.rfind(':');
  if (colon != std::string_view::npos && url.find(']') == std::string_view::npos) {
    host = std::string(url.substr(0, colon));
    port = std::string(url.substr(colon + 1));
  }
  if (host.empty())
    return absl::InvalidArgumentError("tracking URI has no host: '" + options.base_url + "'");
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(options, host, port)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<ClientResponse> Client::Send(std::string_view method, std::string_view target,
                                            std::string_view body, std::string_view content_type,
                                            const HeaderList& headers) {
  return impl_->Send(method, target, body, content_type, headers);
}

}  // namespace ferry::http
