// Reading a request header out of lws, for the HTTP API and the WebSocket
// handshake alike. Service thread only (the wsi's header table).
#pragma once
#include <libwebsockets.h>

#include <optional>
#include <string>

namespace rtpush_lws {

// The header's value, or nothing when the request has none. lws cannot tell
// an empty header from a missing one: both are nothing here. Repeated
// headers come joined with ','.
inline std::optional<std::string> header_of(struct lws* wsi, enum lws_token_indexes h) {
  const int n = lws_hdr_total_length(wsi, h);
  if (n <= 0) return std::nullopt;
  std::string v(static_cast<std::size_t>(n) + 1, '\0');
  const int got = lws_hdr_copy(wsi, &v[0], n + 1, h);
  if (got < 0) return std::nullopt;
  v.resize(static_cast<std::size_t>(got));
  return v;
}

}  // namespace rtpush_lws
