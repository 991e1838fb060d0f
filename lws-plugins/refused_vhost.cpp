#include "refused_vhost.h"

namespace rtpush_lws {

void refuse_vhost(VhostState* vs, const rtpush::ConfigRefusal& about) {
  // Option names are [a-z0-9-]: the text needs no JSON escaping.
  const std::string option = about.option.empty() ? "an rtpush option" : "option " + about.option;
  delete vs->refusal;
  vs->refusal = new std::string("this vhost is not serving: its rtpush " + option +
                                " was refused (the node's log says why)");
}

void forget_refusal(VhostState* vs) {
  if (!vs) return;
  delete vs->refusal;
  vs->refusal = nullptr;
}

const std::string* refusal_of(struct lws* wsi) {
  struct lws_vhost* vh = lws_get_vhost(wsi);
  const struct lws_protocols* core = lws_vhost_name_to_protocol(vh, kCoreProtocol);
  if (!core) return nullptr;
  auto* vs = static_cast<VhostState*>(lws_protocol_vh_priv_get(vh, core));
  return vs ? vs->refusal : nullptr;
}

}  // namespace rtpush_lws
