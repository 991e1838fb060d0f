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
  VhostState* vs = core_state_of(wsi);
  return vs ? vs->refusal : nullptr;
}

}  // namespace rtpush_lws
