// What the fuzz targets that see Server-Sent Events sent (the SSE codec's
// encode, a listener's stream) check of each: one event, its lines then the
// blank line, with exactly one `data:` line holding valid JSON, whatever
// bytes the client or publisher put into it.
#pragma once
#include <string_view>

#include "json_text.h"

namespace fuzz {

inline bool well_formed_sse_event(std::string_view e) {
  if (e.size() < 2 || e.substr(e.size() - 2) != "\n\n") return false;
  const std::size_t data = e.find("\ndata: ");
  if (data == std::string_view::npos) return false;
  const std::string_view json = e.substr(data + 7, e.size() - data - 9);
  return json.find('\n') == std::string_view::npos && json.find('\r') == std::string_view::npos &&
         rtpush::json_valid(json);
}

}  // namespace fuzz
