#include "ws_deflate.h"

#include <cstring>
#include <string>

#include "deflate_offer.h"
#include "vhost_state.h"

namespace rtpush_lws {

int confirm_extension(struct lws* wsi, const char* name, WsSessionData* pss) {
  constexpr int kRefuse = 1;
  rtpush::TransportPort* port = port_of(wsi);
  if (!pss || !port || !port->options().compression) return kRefuse;
  if (!name || std::strcmp(name, "permessage-deflate") != 0) return kRefuse;
  // The handshake's headers are still there: lws asks during the upgrade.
  const int n = lws_hdr_total_length(wsi, WSI_TOKEN_EXTENSIONS);
  if (n <= 0) return kRefuse;
  std::string offers(static_cast<std::size_t>(n) + 1, '\0');
  const int got = lws_hdr_copy(wsi, offers.data(), n + 1, WSI_TOKEN_EXTENSIONS);
  if (got < 0) return kRefuse;
  offers.resize(static_cast<std::size_t>(got));
  if (!rtpush::deflate_offers_acceptable(offers)) return kRefuse;
  // lws now instantiates the extension: with our rx buffer (>= 128 bytes)
  // its construction cannot fail short of running out of memory, so the
  // 101 answer carries it and this connection's messages may go compressed.
  pss->deflate = true;
  return 0;
}

}  // namespace rtpush_lws
