#include "io_thread.h"

#include <pthread.h>
#include <signal.h>

#include <future>

#include "ev_loop.h"

namespace rtpush {

// The watcher post() signals from any thread (ev_async_send is safe
// there); on_async runs the inbox on the I/O thread. Started and stopped
// by the owner while the loop's thread is not running (before it starts,
// after the join). Its own allocation keeps libev's type out of io_thread.h
// (one per vhost).
struct IoThread::Inbox {
  ev_async async{};
  static void on_async(struct ev_loop* loop, ev_async* w, int revents);
};

IoThread::IoThread(std::function<void()> wake)
    : loop_(ev_loop_new(EVFLAG_AUTO)), inbox_signal_(std::make_unique<Inbox>()), wake_(std::move(wake)) {
  ev_async_init(&inbox_signal_->async, &Inbox::on_async);
  inbox_signal_->async.data = this;
  ev_async_start(loop_, &inbox_signal_->async);
  // The process's stop and reload signals must reach the lws service
  // thread, never this one: lwsws's handlers and the graceful stop's
  // (lws-plugins/graceful_stop.cpp) call lws, which is not safe from here.
  // The new thread inherits the mask in force when it is created.
  sigset_t stop_signals, before;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &before);
  thread_ = std::thread([this] { ev_run(loop_, 0); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

IoThread::~IoThread() {
  post([this] {
    stopping_ = true;
    ev_break(loop_, EVBREAK_ALL);
  });
  thread_.join();
  ev_async_stop(loop_, &inbox_signal_->async);
  ev_loop_destroy(loop_);
}

void IoThread::post(Task task) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.push_back(std::move(task));
  }
  ev_async_send(loop_, &inbox_signal_->async);
}

void IoThread::run_and_wait(Task task) {
  if (on_io_thread()) return task();
  std::promise<void> ran;
  post([&task, &ran] {
    task();
    ran.set_value();
  });
  ran.get_future().wait();
}

void IoThread::Inbox::on_async(struct ev_loop*, ev_async* w, int) {
  auto* self = static_cast<IoThread*>(w->data);
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(self->inbox_mu_);
    tasks.swap(self->inbox_);
  }
  for (Task& t : tasks) t();
}

void IoThread::deliver(Task task) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(outbox_mu_);
    first = outbox_.empty();
    outbox_.push_back(std::move(task));
  }
  if (first && wake_) wake_();  // one wake-up per batch
}

std::size_t IoThread::drain() {
  {
    std::lock_guard<std::mutex> lock(outbox_mu_);
    running_.swap(outbox_);
  }
  const std::size_t n = running_.size();
  for (Task& t : running_) t();
  running_.clear();
  return n;
}

}  // namespace rtpush
