// A minimal epoll WebSocket client for benchmarks: many connections in one
// thread. Written by hand because no Debian library holds 10,000 client
// connections and reads 300,000+ frames per second cheaply from one thread;
// it does only what the benchmark needs (RFC 6455 client framing, no
// extensions; the server's Sec-WebSocket-Accept is not checked). TLS with
// OpenSSL when asked (bench/tls.sh), certificate not verified: it measures
// the server's cost, it is not a client to trust.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace bench {

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;     // with TLS
  bool open = false;      // handshake done
  bool closed = false;
  std::string partial;    // an incomplete frame carried to the next read
  std::uint64_t messages = 0;
  std::string last_id;    // id of the last "message" frame (for order checks)
  int encoding = 0;       // 0 rtpush-json, 1 rtpush-msgpack, 2 rtpush-protobuf, 3 SSE
  bool sse = false;       // a GET sse/<channel> listener: events, not WebSocket frames
  bool order_ok = true;
};

class Client {
 public:
  using OnText = std::function<void(Conn&, std::string_view)>;
  Client(std::string host, int port, std::string protocol, OnText on_text);
  ~Client();

  // Starts n connections (connect + handshake request), to `port` (or the
  // client's port when 0), asking for `protocol` (or the client's).
  void connect(int n, int port = 0, const std::string& protocol = {});
  // Starts n Server-Sent Events listeners: GET `target` ("/sse/<channel>"),
  // each event handed to on_text without its blank line (bench/sse.sh).
  void connect_sse(int n, int port, const std::string& target);
  // The request target of later handshakes ("/" by default), e.g.
  // "/?token=T" to present a token (bench/auth.sh).
  void set_path(std::string path) { path_ = std::move(path); }
  // Later connections speak TLS (the handshake is done, blocking, in connect()).
  void use_tls();
  // Runs the event loop for up to `ms` or until `done()` says so; done() is
  // called between batches of events and may send.
  void run(int ms, const std::function<bool()>& done);
  void send_text(Conn& c, std::string_view text) { send_frame(c, text, false); }
  void send_frame(Conn& c, std::string_view payload, bool binary);
  // Frames sent to `c` between the two go out in one write (one TLS record
  // with TLS): --burst.
  void hold_writes(Conn& c);
  void release_writes(Conn& c);

  // A deque: connections never move, epoll holds their addresses.
  std::deque<Conn>& conns() { return conns_; }
  int open_count() const { return open_; }
  int failed_count() const { return failed_; }

 private:
  void on_readable(Conn& c);
  void parse(Conn& c, const char* data, std::size_t len);
  void parse_sse(Conn& c, const char* data, std::size_t len);
  bool read_headers(Conn& c, std::string_view v, std::string_view status, std::size_t* at);
  void open_socket(Conn& c, int port, const std::string& request);
  void fail(Conn& c);
  bool write_all(Conn& c, const char* data, std::size_t len);

  std::string host_, protocol_, path_ = "/";
  int port_, ep_;
  SSL_CTX* tls_ = nullptr;
  Conn* holding_ = nullptr;  // hold_writes(): its writes gather in held_
  std::string held_;
  OnText on_text_;
  std::deque<Conn> conns_;
  std::vector<char> buf_;
  int open_ = 0, failed_ = 0;
};

double now_seconds();

}  // namespace bench
