// The per-connection send queue: bounded in bytes, shares frames, FIFO.
#include <string>

#include "cmocka_cpp.h"
#include "send_queue.h"

using rtpush::Frame;
using rtpush::SendQueue;
using rtpush::SendResult;

static void bounded_in_bytes(void**) {
  SendQueue q(1000);
  auto f = Frame::make(std::string(300, 'x'), false);
  assert_int_equal(q.push(f), SendResult::Queued);        // 300
  assert_int_equal(q.push(f), SendResult::Backpressure);  // 600 > half
  assert_int_equal(q.push(f), SendResult::Backpressure);  // 900
  assert_int_equal(q.push(f), SendResult::Dropped);       // would be 1200
  assert_int_equal(q.bytes(), 900);
  assert_int_equal(q.size(), 3);
}

static void one_oversized_frame_fits_an_empty_queue(void**) {
  SendQueue q(1000);
  auto big = Frame::make(std::string(5000, 'x'), false);
  assert_int_not_equal(q.push(big), SendResult::Dropped);
  assert_int_equal(q.push(Frame::make("y", false)), SendResult::Dropped);
  q.pop();
  assert_true(q.empty());
  assert_int_equal(q.bytes(), 0);
}

static void shares_frames_and_keeps_order(void**) {
  SendQueue a(1 << 20), b(1 << 20);
  auto f = Frame::make("{\"type\":\"message\"}", false);
  const void* bytes = f->data();
  for (int i = 0; i < 100; ++i) {
    a.push(f);
    b.push(f);
  }
  assert_int_equal(f.use_count(), 201);  // refs, not copies
  assert_ptr_equal(a.front()->data(), bytes);
  // FIFO across ring growth and wrap-around.
  SendQueue q(1 << 20);
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 7; ++i) q.push(Frame::make(std::to_string(next_in++), false));
    for (int i = 0; i < 5; ++i) {
      assert_string_equal(std::string(q.front()->view()).c_str(), std::to_string(next_out++).c_str());
      q.pop();
    }
  }
  while (!q.empty()) {
    assert_string_equal(std::string(q.front()->view()).c_str(), std::to_string(next_out++).c_str());
    q.pop();
  }
  assert_int_equal(next_in, next_out);
}

// One frame waits in the queue itself; a second moves both to a ring. Order,
// bytes and references hold across that move, and after the queue drains.
static void inline_slot_then_ring(void**) {
  SendQueue q(1 << 20);
  auto a = Frame::make("a", false), b = Frame::make("bb", false), c = Frame::make("ccc", false);
  for (int i = 0; i < 3; ++i) {  // one at a time: the common case
    q.push(a);
    assert_int_equal(q.size(), 1);
    assert_int_equal(q.bytes(), 1);
    assert_ptr_equal(q.front().get(), a.get());
    q.pop();
    assert_true(q.empty());
  }
  assert_int_equal(a.use_count(), 1);
  q.push(a);
  q.push(b);  // the ring is made here
  q.push(c);
  assert_int_equal(q.bytes(), 6);
  assert_ptr_equal(q.at(0).get(), a.get());
  assert_ptr_equal(q.at(1).get(), b.get());
  assert_ptr_equal(q.at(2).get(), c.get());
  q.pop();
  assert_ptr_equal(q.front().get(), b.get());
  q.clear();  // back to the inline slot
  assert_int_equal(a.use_count() + b.use_count() + c.use_count(), 3);
  q.push(c);
  q.push(a);
  assert_ptr_equal(q.front().get(), c.get());
  q.pop();
  assert_ptr_equal(q.front().get(), a.get());
  q.pop();
  assert_int_equal(q.bytes(), 0);
}

static void clear_releases_frames(void**) {
  SendQueue q(1 << 20);
  auto f = Frame::make("abc", false);
  for (int i = 0; i < 10; ++i) q.push(f);
  q.clear();
  assert_int_equal(f.use_count(), 1);
  assert_true(q.empty());
  assert_int_equal(q.bytes(), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bounded_in_bytes),
      cmocka_unit_test(one_oversized_frame_fits_an_empty_queue),
      cmocka_unit_test(shares_frames_and_keeps_order),
      cmocka_unit_test(inline_slot_then_ring),
      cmocka_unit_test(clear_releases_frames),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
