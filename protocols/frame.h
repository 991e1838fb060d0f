// Frame: the encoded bytes of one server-to-client WebSocket message, built
// once per encoding and shared by every subscriber that sends it.
//
// One allocation holds the refcount, the length, kFrameHeadroom spare bytes
// in front of the payload (lws writes its WebSocket header there: LWS_PRE),
// and the payload. Refcounting is intentionally non-atomic: frames are made
// and released on the lws service thread only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace rtpush {

// Must be >= LWS_PRE (16 in lws 4.1.6); the plugins static_assert it.
inline constexpr std::size_t kFrameHeadroom = 16;

class FrameRef;

class Frame {
 public:
  // Copies `bytes` once into a new frame with headroom. `compressed`: the
  // bytes are a permessage-deflate payload (RFC 7692): the writer sets RSV1.
  static FrameRef make(std::string_view bytes, bool binary, bool compressed = false);

  // The payload; data() - kFrameHeadroom is writable scratch for lws.
  std::uint8_t* data() { return reinterpret_cast<std::uint8_t*>(this + 1) + kFrameHeadroom; }
  const std::uint8_t* data() const { return reinterpret_cast<const std::uint8_t*>(this + 1) + kFrameHeadroom; }
  std::size_t size() const { return size_; }
  bool binary() const { return binary_; }
  bool compressed() const { return compressed_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size_}; }

 private:
  friend class FrameRef;
  Frame(std::size_t size, bool binary, bool compressed)
      : size_(size), binary_(binary), compressed_(compressed) {}
  std::uint32_t refs_ = 0;
  std::size_t size_;
  bool binary_;
  bool compressed_;  // in the padding after binary_: no bigger than before
};

// Intrusive reference to a Frame; copying bumps a counter, never the bytes.
class FrameRef {
 public:
  FrameRef() = default;
  explicit FrameRef(Frame* f) : f_(f) { if (f_) ++f_->refs_; }
  FrameRef(const FrameRef& o) : f_(o.f_) { if (f_) ++f_->refs_; }
  FrameRef(FrameRef&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  FrameRef& operator=(FrameRef o) noexcept { std::swap(f_, o.f_); return *this; }
  ~FrameRef() { release(); }

  Frame* get() const { return f_; }
  Frame* operator->() const { return f_; }
  Frame& operator*() const { return *f_; }
  explicit operator bool() const { return f_ != nullptr; }
  std::uint32_t use_count() const { return f_ ? f_->refs_ : 0; }

 private:
  void release();
  Frame* f_ = nullptr;
};

}  // namespace rtpush
