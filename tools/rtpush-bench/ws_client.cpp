#include "ws_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace bench {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Client::Client(std::string host, int port, std::string protocol, OnText on_text)
    : host_(std::move(host)), protocol_(std::move(protocol)), port_(port), on_text_(std::move(on_text)),
      buf_(1 << 18) {
  ep_ = epoll_create1(0);
}

Client::~Client() {
  for (Conn& c : conns_) {
    if (c.ssl) SSL_free(c.ssl);
    if (c.fd >= 0) close(c.fd);
  }
  if (tls_) SSL_CTX_free(tls_);
  close(ep_);
}

void Client::use_tls() {
  if (tls_) return;
  tls_ = SSL_CTX_new(TLS_client_method());
  if (!tls_) throw std::runtime_error("SSL_CTX_new failed");
  SSL_CTX_set_verify(tls_, SSL_VERIFY_NONE, nullptr);
}

// Sends all of it (the socket is non-blocking once open: a benchmark's
// frames are small, so a full socket is a failure, as with send()).
bool Client::write_all(Conn& c, const char* data, std::size_t len) {
  if (&c == holding_) {
    held_.append(data, len);
    return true;
  }
  if (c.ssl) return SSL_write(c.ssl, data, static_cast<int>(len)) == static_cast<int>(len);
  return ::send(c.fd, data, len, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
}

void Client::connect(int n, int port, const std::string& protocol) {
  const std::string request =
      "GET " + path_ + " HTTP/1.1\r\nHost: " + host_ + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: " + (protocol.empty() ? protocol_ : protocol) + "\r\n\r\n";
  for (int i = 0; i < n; ++i) open_socket(conns_.emplace_back(), port, request);
}

void Client::connect_sse(int n, int port, const std::string& target) {
  const std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\nAccept: text/event-stream\r\n\r\n";
  for (int i = 0; i < n; ++i) {
    Conn& c = conns_.emplace_back();
    c.sse = true;
    c.encoding = 3;
    open_socket(c, port, request);
  }
}

void Client::open_socket(Conn& c, int port, const std::string& request) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port ? port : port_));
  inet_pton(AF_INET, host_.c_str(), &sa.sin_addr);
  c.fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c.fd < 0) { ++failed_; c.closed = true; return; }
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Blocking connect on loopback is immediate; then non-blocking I/O.
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    fail(c);
    return;
  }
  if (tls_) {  // blocking handshake, then non-blocking like the rest
    c.ssl = SSL_new(tls_);
    SSL_set_fd(c.ssl, c.fd);
    if (SSL_connect(c.ssl) != 1) {
      ERR_clear_error();
      fail(c);
      return;
    }
  }
  if (!write_all(c, request.data(), request.size())) {
    fail(c);
    return;
  }
  fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &c;
  epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
}

void Client::hold_writes(Conn& c) { holding_ = &c; }

void Client::release_writes(Conn& c) {
  if (holding_ != &c) return;
  holding_ = nullptr;
  if (!held_.empty() && !write_all(c, held_.data(), held_.size())) fail(c);
  held_.clear();
}

void Client::fail(Conn& c) {
  if (c.closed) return;
  if (c.open) --open_;
  c.closed = true;
  c.open = false;
  ++failed_;
  if (c.ssl) SSL_free(c.ssl);
  c.ssl = nullptr;
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
}

void Client::send_frame(Conn& c, std::string_view text, bool binary) {
  // Client frames must be masked; a zero mask is a valid mask and spares
  // the XOR (this is a benchmark, not a browser).
  char head[14];
  std::size_t h = 0;
  head[h++] = static_cast<char>(binary ? 0x82 : 0x81);
  if (text.size() < 126) {
    head[h++] = static_cast<char>(0x80 | text.size());
  } else if (text.size() < 65536) {
    head[h++] = static_cast<char>(0x80 | 126);
    head[h++] = static_cast<char>(text.size() >> 8);
    head[h++] = static_cast<char>(text.size() & 0xff);
  } else {
    head[h++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) head[h++] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  }
  std::memset(head + h, 0, 4);
  h += 4;
  std::string frame(head, h);
  frame.append(text);
  if (!write_all(c, frame.data(), frame.size())) fail(c);
}

namespace {

// This read's bytes after those an earlier read left incomplete (taken from
// c.partial); `joined` holds the two when there were any.
std::string_view with_partial(Conn& c, const char* data, std::size_t len, std::string& joined) {
  if (c.partial.empty()) return {data, len};
  joined = std::move(c.partial);
  joined.append(data, len);
  c.partial.clear();
  return joined;
}

}  // namespace

// Before the connection is open: the answer's headers, up to the blank
// line. True once they are complete with `status` (the connection opens,
// *at is where what follows them starts); false while they are incomplete
// (kept for the next read) or when the status is another (failed).
bool Client::read_headers(Conn& c, std::string_view v, std::string_view status, std::size_t* at) {
  const auto end = v.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    c.partial.assign(v.data(), v.size());
    return false;
  }
  if (v.substr(0, 12).find(status) == std::string_view::npos) {
    fail(c);
    return false;
  }
  c.open = true;
  ++open_;
  *at = end + 4;
  return true;
}

// An event stream: the 200's headers once, then events ending in a blank
// line; each goes to on_text without it (comments too: ": ping").
void Client::parse_sse(Conn& c, const char* data, std::size_t len) {
  std::string joined;
  std::string_view v = with_partial(c, data, len, joined);
  std::size_t at = 0;
  if (!c.open && !read_headers(c, v, "200", &at)) return;
  v.remove_prefix(at);
  for (auto end = v.find("\n\n"); end != std::string_view::npos; end = v.find("\n\n")) {
    on_text_(c, v.substr(0, end + 1));
    v.remove_prefix(end + 2);
  }
  if (!v.empty()) c.partial.assign(v.data(), v.size());
}

void Client::parse(Conn& c, const char* data, std::size_t len) {
  if (c.sse) return parse_sse(c, data, len);
  std::string joined;
  const std::string_view all = with_partial(c, data, len, joined);
  data = all.data();
  len = all.size();
  std::size_t at = 0;
  if (!c.open && !read_headers(c, all, "101", &at)) return;
  while (len - at >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(data + at);
    const int op = p[0] & 0x0f;
    std::uint64_t n = p[1] & 0x7f;
    std::size_t h = 2;
    if (n == 126) {
      if (len - at < 4) break;
      n = (std::uint64_t(p[2]) << 8) | p[3];
      h = 4;
    } else if (n == 127) {
      if (len - at < 10) break;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | p[2 + i];
      h = 10;
    }
    if (len - at < h + n) break;
    std::string_view payload(data + at + h, n);
    if (op == 1 || op == 2) {
      on_text_(c, payload);
    } else if (op == 9) {  // ping: answer with a pong carrying the same bytes
      std::string pong = {static_cast<char>(0x8a), static_cast<char>(0x80 | payload.size()), 0, 0, 0, 0};
      pong.append(payload);
      write_all(c, pong.data(), pong.size());
    } else if (op == 8) {
      fail(c);
      return;
    }
    at += h + n;
  }
  if (at < len) c.partial.assign(data + at, len - at);
}

void Client::on_readable(Conn& c) {
  while (c.ssl) {  // until OpenSSL has nothing decrypted left and wants the socket
    const int n = SSL_read(c.ssl, buf_.data(), static_cast<int>(buf_.size()));
    if (n > 0) {
      parse(c, buf_.data(), static_cast<std::size_t>(n));
      if (c.closed) return;
      continue;
    }
    const int err = SSL_get_error(c.ssl, n);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      fail(c);
    }
    return;
  }
  for (;;) {
    ssize_t n = ::recv(c.fd, buf_.data(), buf_.size(), 0);
    if (n > 0) {
      parse(c, buf_.data(), static_cast<std::size_t>(n));
      if (c.closed || static_cast<std::size_t>(n) < buf_.size()) return;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) fail(c);
    return;
  }
}

void Client::run(int ms, const std::function<bool()>& done) {
  const double deadline = now_seconds() + ms / 1000.0;
  epoll_event events[512];
  for (double now = now_seconds(); !done() && now < deadline; now = now_seconds()) {
    const int wait_ms = static_cast<int>(std::min(50.0, (deadline - now) * 1000));
    int n = epoll_wait(ep_, events, 512, wait_ms);
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(events[i].data.ptr);
      if (!c.closed) on_readable(c);
    }
  }
}

}  // namespace bench
