// Which permessage-deflate offers (RFC 7692 section 5) rtpush accepts, read
// from a client's Sec-WebSocket-Extensions header. Pure: unit-tested, and
// called by the plugins from LWS_CALLBACK_CONFIRM_EXTENSION_OKAY.
#pragma once
#include <string_view>

namespace rtpush {

// True when every permessage-deflate offer in `header` (a comma-separated
// list of extensions, each `name *(; param[=value])`) carries only
// parameters rtpush can honour as lws 4.1.6 answers them:
//   server_no_context_takeover, client_no_context_takeover: lws echoes
//     them; our messages never refer to earlier ones either way;
//   client_max_window_bits (with or without 8..15): a hint lws need not
//     answer; the client then compresses with window 15, which lws inflates.
// An offer with server_max_window_bits (lws cannot answer it, and we
// compress with window 15), any other parameter, or a malformed one is
// declined, as RFC 7692 asks of parameters a server does not support: the
// connection then goes on uncompressed. Offers of other extensions are not
// looked at.
bool deflate_offers_acceptable(std::string_view header);

}  // namespace rtpush
