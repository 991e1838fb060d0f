#include "ws_handshake.h"

#include <cstdio>
#include <optional>
#include <string>

#include "lws_headers.h"
#include "lws_logger.h"

namespace rtpush_lws {
namespace {

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// `reason` as the text of a JSON string.
std::string json_escaped(const std::string& reason) {
  std::string out;
  for (const char ch : reason) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char u[8];
      std::snprintf(u, sizeof u, "\\u%04x", c);
      out += u;
    } else {
      out += ch;
    }
  }
  return out;
}

// The HTTP answer refusing the upgrade, written raw: the wsi is already in
// lws's ws role at this callback, where LWS_WRITE_HTTP goes out as it is.
// lws closes the connection when the callback returns nonzero, so it says
// `Connection: close`.
void write_refusal(struct lws* wsi, int status, const std::string& reason) {
  const std::string body = "{\"error\":\"" + json_escaped(reason.empty() ? status_text(status) : reason) + "\"}";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (status == 401) head += "WWW-Authenticate: Bearer\r\n";
  std::string out(LWS_PRE, '\0');
  out += head + "\r\n" + body;
  auto* p = reinterpret_cast<unsigned char*>(&out[LWS_PRE]);
  if (lws_write(wsi, p, out.size() - LWS_PRE, LWS_WRITE_HTTP) < 0)
    rtpush_lws::log_event(rtpush::LogLevel::Info, "refusal_unsent", {{"status", status}});
}

}  // namespace

int admit_upgrade(struct lws* wsi, rtpush::TransportPort& port, rtpush::Admission** admitted) {
  *admitted = nullptr;
  const std::optional<std::string> origin = header_of(wsi, WSI_TOKEN_ORIGIN);
  const std::optional<std::string> token = query_arg(wsi, "token=");
  rtpush::Admission a = port.admit(origin ? &*origin : nullptr, token ? &*token : nullptr);
  if (a.http_status != 0) {
    write_refusal(wsi, a.http_status, a.reason);
    return 1;
  }
  if (a.authenticated) *admitted = new rtpush::Admission(std::move(a));
  return 0;
}

int refuse_upgrade(struct lws* wsi, const std::string& refusal) {
  write_refusal(wsi, 503, refusal);
  return 1;
}

}  // namespace rtpush_lws
