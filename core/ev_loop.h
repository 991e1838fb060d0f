// The core's one door to libev, as hiredis keeps its loop behind
// adapters/libev.h: the .cpp files that run on the I/O thread's loop
// (IoThread, RedisLink with hiredis's libev adapter, PgLink, and the
// backends' timers) include this, and no header a plugin sees does. The
// rest of the core knows the loop only as `struct ev_loop*` (io_thread.h),
// so neither <ev.h> nor the libev link reaches the lws plugins.
#pragma once
#include <ev.h>
