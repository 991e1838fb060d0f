#include "frame_fields.h"

namespace rtpush {

std::string_view frame_field_name(FrameField field) {
  switch (field) {
    case FrameField::ConnectionId: return "connection_id";
    case FrameField::Node: return "node";
    case FrameField::HeartbeatInterval: return "heartbeat_interval";
    case FrameField::Timestamp: return "timestamp";
    case FrameField::Channel: return "channel";
    case FrameField::Id: return "id";
    case FrameField::Position: return "position";
    case FrameField::Recovered: return "recovered";
    case FrameField::Data: return "data";
    case FrameField::Code: return "code";
    case FrameField::Message: return "message";
    case FrameField::Ref: return "ref";
    case FrameField::User: return "user";
    case FrameField::Expires: return "expires";
    case FrameField::Reason: return "reason";
  }
  return "";
}

}  // namespace rtpush
