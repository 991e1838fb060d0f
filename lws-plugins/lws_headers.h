// Reading a request header out of lws, for the HTTP API and the WebSocket
// handshake alike. Service thread only (the wsi's header table).
#pragma once
#include <libwebsockets.h>

#include <cstring>
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

// A header lws does not know by name (`name` lower case, with its colon:
// "last-event-id:"), or nothing.
inline std::optional<std::string> custom_header_of(struct lws* wsi, const char* name) {
  const int nlen = static_cast<int>(std::strlen(name));
  const int n = lws_hdr_custom_length(wsi, name, nlen);
  if (n <= 0) return std::nullopt;
  std::string v(static_cast<std::size_t>(n) + 1, '\0');
  const int got = lws_hdr_custom_copy(wsi, &v[0], n + 1, name, nlen);
  if (got < 0) return std::nullopt;
  v.resize(static_cast<std::size_t>(got));
  return v;
}

// The first query parameter `name` ("token=": the name and its '='), as
// lws decoded it (%XX and '+'). Each argument is copied whole whatever its
// length, so a long token is judged by the verifier (which refuses it past
// 8 KB), not cut here. (lws_get_urlarg_by_name() stops at the first
// argument longer than its buffer and would miss the one after it.)
inline std::optional<std::string> query_arg(struct lws* wsi, const char* name) {
  const std::size_t name_len = std::strlen(name);
  for (int i = 0;; ++i) {
    const int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    std::string arg(static_cast<std::size_t>(len) + 1, '\0');
    const int got = lws_hdr_copy_fragment(wsi, &arg[0], len + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (got < 0) return std::nullopt;  // no more arguments
    arg.resize(static_cast<std::size_t>(got));
    if (arg.compare(0, name_len, name) == 0) return arg.substr(name_len);
  }
}

}  // namespace rtpush_lws
