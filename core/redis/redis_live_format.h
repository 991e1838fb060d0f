// The live message format RedisBroker reads off pub/sub (redis_scripts.h,
// the publish script): the pure part, unit-tested without a Redis. No state.
#pragma once
#include <string_view>

namespace rtpush::redis {

// A live message's payload after "<id> " (redis_scripts.h, the publish
// script): "u<length>:<user>" first when an authenticated connection
// published it. Takes that prefix off `*rest` into `*user`; nothing to take
// leaves both as they were (no user). False when the prefix is cut short
// or its length is not a number: the message cannot be read.
bool split_live_user(std::string_view* rest, std::string_view* user);

}  // namespace rtpush::redis
