// The only file that includes <httplib.h> for the client: one request in, one response out.
#include <fcntl.h>
#include <httplib.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/fd.h"
#include "http/github_client.h"
#include "http/github_url.h"

namespace wfrun::http {

namespace {

void set_timeout(std::chrono::milliseconds ms, auto&& setter) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(ms).count();
  setter(static_cast<time_t>(us / 1'000'000), static_cast<time_t>(us % 1'000'000));
}

std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "could not connect";
    case httplib::Error::Read:
      return "the connection failed while reading the response (timeout or reset)";
    case httplib::Error::Write:
      return "the connection failed while sending the request (timeout or reset)";
    case httplib::Error::SSLConnection:
      return "the TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate is not trusted (pass a CA bundle with --ca-file or "
             "WFRUN_CA_FILE if a proxy or private CA signs it)";
    case httplib::Error::ConnectionTimeout:
      return "the connection timed out";
    default:
      return httplib::to_string(e);
  }
}

class HttplibTransport : public Transport {
 public:
  HttplibTransport(Timeouts t, std::string ca_file) : t_(t), ca_file_(std::move(ca_file)) {}

  Result<HttpResponse> send(const HttpRequest& r) override {
    auto url = parse_url(r.url);
    if (!url) return Error("invalid URL: " + redact_url(r.url));
    httplib::Client cli(url->origin());
    cli.set_url_encode(false);  // the client encodes paths itself
    cli.set_keep_alive(false);
    set_timeout(t_.connect, [&](time_t s, time_t us) { cli.set_connection_timeout(s, us); });
    set_timeout(t_.read, [&](time_t s, time_t us) { cli.set_read_timeout(s, us); });
    set_timeout(t_.write, [&](time_t s, time_t us) { cli.set_write_timeout(s, us); });
    if (url->scheme == "https") {
      cli.enable_server_certificate_verification(true);
      if (!ca_file_.empty()) {
        // set_ca_cert_path would replace the system bundle; a store holding both adds to it.
        X509_STORE* store = X509_STORE_new();
        if (!store || X509_STORE_set_default_paths(store) != 1 ||
            X509_STORE_load_file(store, ca_file_.c_str()) != 1) {
          X509_STORE_free(store);
          return Error("cannot read the CA bundle " + ca_file_);
        }
        cli.set_ca_cert_store(store);  // httplib owns it now
      }
    }
    httplib::Request req;
    req.method = r.method;
    req.path = url->target;
    for (const auto& [k, v] : r.headers) req.headers.emplace(k, v);
    req.body = r.body;
    UniqueFd body_fd;
    if (r.body.empty() && !r.body_file.empty()) {
      // Streamed with a Content-Length: httplib asks for the bytes as it sends them.
      body_fd = UniqueFd(::open(r.body_file.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st {};
      if (!body_fd || ::fstat(body_fd.get(), &st) != 0)
        return Error("cannot read " + r.body_file + ": " + std::strerror(errno));
      const int fd = body_fd.get();
      req.content_length_ = static_cast<size_t>(st.st_size);
      req.content_provider_ = [fd](size_t offset, size_t length, httplib::DataSink& sink) {
        char buf[64 * 1024];
        const ssize_t n =
            ::pread(fd, buf, std::min(length, sizeof buf), static_cast<off_t>(offset));
        if (n <= 0) return false;  // a file that shrank: abort the request
        return sink.write(buf, static_cast<size_t>(n));
      };
    }
    auto res = cli.send(req);
    if (!res) {
      return Error(r.method + " " + redact_url(r.url) + ": " + describe(res.error()));
    }
    HttpResponse out;
    out.status = res->status;
    for (const auto& [k, v] : res->headers) out.headers.emplace_back(k, v);
    out.body = std::move(res->body);
    return out;
  }

 private:
  Timeouts t_;
  std::string ca_file_;
};

}  // namespace

std::unique_ptr<Transport> make_httplib_transport(const Timeouts& timeouts,
                                                  const std::string& ca_file) {
  return std::make_unique<HttplibTransport>(timeouts, ca_file);
}

}  // namespace wfrun::http
