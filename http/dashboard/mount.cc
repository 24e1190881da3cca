#include "http/dashboard/mount.h"

#include <httplib.h>
#include <zlib.h>

#include <memory>

#include "http/dashboard/dashboard.h"

namespace wfrun::dashboard {

namespace {

class Sink : public StreamSink {
 public:
  explicit Sink(httplib::DataSink& s) : s_(s) {}
  bool write(std::string_view data) override {
    if (!s_.is_writable()) return false;
    return s_.write(data.data(), data.size());
  }
  // wfrun serve's connections say here when the client has closed its side (POLLRDHUP);
  // httplib's own sockets only when the send buffer is full.
  bool alive() override { return s_.is_writable(); }

 private:
  httplib::DataSink& s_;
};

/// gzip at zlib's fastest level: a 256 KB log window costs ~2 ms (httplib's own choice, brotli
/// at its best quality, took 1.7 s for the same window).
bool gzip_fast(const std::string& in, std::string& out) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&z, in.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

}  // namespace

void serve(Dashboard& d, const httplib::Request& hreq, httplib::Response& hres, bool tls) {
  Request req;
  req.method = hreq.method;
  req.path = hreq.path;
  for (const auto& [k, v] : hreq.params) req.params.emplace(k, v);
  for (const auto& [k, v] : hreq.headers) {
    std::string name = k;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace(std::move(name), v);
  }
  req.body = hreq.body;
  req.tls = tls;
  Response res = d.handle(req);
  hres.status = res.status;
  for (auto& [k, v] : res.headers) hres.set_header(k, v);
  if (!res.gzip && !res.stream && res.body.size() >= 1024 && res.status < 400 &&
      hreq.get_header_value("Accept-Encoding").find("gzip") != std::string::npos) {
    std::string z;
    if (gzip_fast(res.body, z)) {
      res.body = std::move(z);
      res.gzip = true;
    }
  }
  if (!res.stream && !res.gzip) {
    // Small (or an error, which a server's error handler only leaves alone when the body is
    // set): as it is.
    hres.set_content(res.body, res.type);
    return;
  }
  if (!res.stream) {
    // Through a sized provider, which httplib never compresses again.
    if (res.gzip) {
      hres.set_header("Content-Encoding", "gzip");
      hres.set_header("Vary", "Accept-Encoding");
    }
    auto body = std::make_shared<std::string>(std::move(res.body));
    hres.set_content_provider(body->size(), res.type,
                              [body](size_t offset, size_t length, httplib::DataSink& sink) {
                                return sink.write(body->data() + offset, length);
                              });
    return;
  }
  {
    auto fn = std::make_shared<std::function<void(StreamSink&)>>(std::move(res.stream));
    if (res.stream_length >= 0) {
      hres.set_content_provider(static_cast<size_t>(res.stream_length), res.type,
                                [fn](size_t offset, size_t, httplib::DataSink& sink) {
                                  if (offset > 0) return false;  // written whole on the first call
                                  Sink s(sink);
                                  (*fn)(s);
                                  return true;
                                });
    } else {
      hres.set_chunked_content_provider(res.type, [fn](size_t, httplib::DataSink& sink) {
        Sink s(sink);
        (*fn)(s);
        sink.done();
        return true;
      });
    }
    return;
  }
}

void mount(httplib::Server& server, Dashboard& d, bool tls) {
  auto handler = [&d, tls](const httplib::Request& req, httplib::Response& res) { serve(d, req, res, tls); };
  server.Get(".*", handler);
  server.Post(".*", handler);
}

}  // namespace wfrun::dashboard
