// IoThread: the core's own libev loop on a thread of its own, where Redis
// and PostgreSQL I/O happens, never on the lws service thread.
//
//   service thread --post()--> I/O thread   (a queue + ev_async)
//   I/O thread --deliver()--> service thread (a queue + wake(), which the
//                                            plugin makes lws_cancel_service;
//                                            the service thread then calls
//                                            drain())
//   service thread --run_and_wait()--> I/O thread, and back: shutdown
//
// The rules every backend follows (RedisBroker, PgStore, PersistFeed,
// PgArchive):
// - Its state on the I/O thread is one object, named IoSide (or a link
//   owned by it); members say which thread owns them; I/O-side code asserts
//   on_io_thread() in debug builds.
// - Its destructor (service thread) shuts the I/O side down with
//   run_and_wait(): links closed, timers stopped. Its own callbacks (links,
//   timers) cannot run after that, so they may use `this`.
// - A callback handed to another object that may outlive it (the store
//   committing a feed's batch) holds a weak handle (std::weak_ptr to its
//   IoSide) and does nothing once that is gone.
// - Results for the service thread go through deliver(); the Vhost destroys
//   the node before this thread, and nothing is drained in between.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

// libev's loop, opaque here: <ev.h> stays inside the core (ev_loop.h).
struct ev_loop;

namespace rtpush {

class IoThread {
 public:
  using Task = std::function<void()>;
  // `wake` must be safe to call from any thread.
  explicit IoThread(std::function<void()> wake);
  ~IoThread();  // stops the loop and joins
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  struct ev_loop* loop() const { return loop_; }
  bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Runs `task` on the I/O thread, in order.
  void post(Task task);
  // Runs `task` on the I/O thread and returns once it has run: how an owner
  // on the service thread shuts its I/O side down (closes connections, stops
  // timers) before freeing it. Runs it at once when called on the I/O thread.
  void run_and_wait(Task task);
  // Runs `task` on the service thread at its next drain(), in order.
  void deliver(Task task);
  // Service thread: runs what was delivered. Returns how many ran.
  std::size_t drain();

 private:
  struct Inbox;  // the ev_async that post() signals (io_thread.cpp)
  struct ev_loop* loop_;
  std::unique_ptr<Inbox> inbox_signal_;
  std::function<void()> wake_;
  std::mutex inbox_mu_, outbox_mu_;
  std::vector<Task> inbox_, outbox_, running_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rtpush
