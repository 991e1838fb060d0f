#include "json_text.h"

#include <array>
#include <cstring>

#include "utf8.h"

namespace rtpush {

namespace {

constexpr const char* kNotJson = "not valid JSON";
constexpr const char* kTrailing = "not exactly one JSON value: trailing bytes after it";
constexpr const char* kEmpty = "not exactly one JSON value: no value";
constexpr const char* kUtf8 = "invalid UTF-8 in a string";
constexpr const char* kControl = "raw control character in a string (escape it as \\u00XX)";
constexpr const char* kEscape = "invalid escape in a string";
constexpr const char* kNumber = "invalid number";
constexpr const char* kTooDeep = "nested too deep";
constexpr const char* kUnterminated = "unterminated string";

bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Bytes that end the plain run inside a string: the quote, the backslash,
// controls (refused) and non-ASCII (checked as UTF-8).
constexpr std::array<bool, 256> kStringStop = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  return t;
}();

// The two-character escapes, both ways: the letter after the backslash and
// the byte it stands for (\/ reads as '/' but is never written).
struct ShortEscape {
  char letter, byte;
};
constexpr ShortEscape kShortEscapes[] = {{'"', '"'}, {'\\', '\\'}, {'b', '\b'}, {'f', '\f'},
                                         {'n', '\n'}, {'r', '\r'}, {'t', '\t'}};
constexpr std::array<char, 256> kEscapeLetter = [] {  // 0: written as it is (or as \u00XX below 0x20)
  std::array<char, 256> t{};
  for (const ShortEscape& e : kShortEscapes) t[static_cast<unsigned char>(e.byte)] = e.letter;
  return t;
}();
constexpr std::array<char, 256> kEscapedByte = [] {  // the letters above, and " \ / as themselves
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<char>(c);
  for (const ShortEscape& e : kShortEscapes) t[static_cast<unsigned char>(e.letter)] = e.byte;
  return t;
}();

class Reader {
 public:
  Reader(std::string_view text, std::string* out, int max_depth, std::vector<JsonMember>* members,
         JsonContainerCounts* counts = nullptr)
      : p_(reinterpret_cast<const unsigned char*>(text.data())),
        n_(text.size()),
        out_(out),
        max_depth_(static_cast<std::size_t>(max_depth)),
        members_(members),
        counts_(counts) {}

  const char* run() {
    enum class State { Value, Key, After } state = State::Value;
    std::string stack;  // '{' or '[' per open container
    ws();
    if (i_ >= n_) return kEmpty;
    for (;;) {
      switch (state) {
        case State::Value: {
          if (i_ >= n_) return kNotJson;
          const unsigned char c = p_[i_];
          if (counts_ && !stack.empty() && stack.back() == '[') ++counts_->items[counts_->open.back()];
          if (c == '{' || c == '[') {
            if (stack.size() >= max_depth_) return kTooDeep;
            stack.push_back(static_cast<char>(c));
            if (counts_) {
              counts_->open.push_back(static_cast<std::uint32_t>(counts_->items.size()));
              counts_->items.push_back(0);
            }
            ++i_;
            ws();
            if (i_ < n_ && p_[i_] == (c == '{' ? '}' : ']')) {
              ++i_;
              stack.pop_back();
              if (counts_) counts_->open.pop_back();
              state = State::After;
            } else {
              state = c == '{' ? State::Key : State::Value;
            }
            continue;
          }
          const char* err = c == '"'                 ? string()
                            : c == '-' || is_digit(c) ? number()
                            : c == 't'                ? literal("true")
                            : c == 'f'                ? literal("false")
                            : c == 'n'                ? literal("null")
                                                      : kNotJson;
          if (err) return err;
          state = State::After;
          continue;
        }
        case State::Key: {
          if (i_ >= n_ || p_[i_] != '"') return kNotJson;
          if (counts_) ++counts_->items[counts_->open.back()];
          const bool top = members_ && stack.size() == 1;
          const std::size_t key = top ? pos() + 1 : 0;
          if (const char* err = string()) return err;
          if (top) members_->push_back(JsonMember{key, pos() - 1 - key, 0, 0});
          ws();
          if (i_ >= n_ || p_[i_] != ':') return kNotJson;
          ++i_;
          ws();
          if (top) members_->back().value = pos();
          state = State::Value;
          continue;
        }
        case State::After: {
          if (members_ && stack.size() == 1 && stack[0] == '{') members_->back().value_len = pos() - members_->back().value;
          ws();
          if (stack.empty()) {
            if (i_ != n_) return kTrailing;
            if (out_) out_->append(reinterpret_cast<const char*>(p_) + copy_from_, i_ - copy_from_);
            return nullptr;
          }
          if (i_ >= n_) return kNotJson;
          const unsigned char c = p_[i_];
          const bool object = stack.back() == '{';
          if (c == ',') {
            ++i_;
            ws();
            state = object ? State::Key : State::Value;
          } else if (c == (object ? '}' : ']')) {
            ++i_;
            stack.pop_back();
            if (counts_) counts_->open.pop_back();
          } else {
            return kNotJson;
          }
          continue;
        }
      }
    }
  }

 private:
  // The offset in the minified output that input offset i_ maps to.
  std::size_t pos() const { return out_->size() + (i_ - copy_from_); }

  // Skips whitespace; the text before it goes to the output, the
  // whitespace does not.
  void ws() {
    if (i_ >= n_ || !is_ws(p_[i_])) return;
    if (out_) out_->append(reinterpret_cast<const char*>(p_) + copy_from_, i_ - copy_from_);
    while (i_ < n_ && is_ws(p_[i_])) ++i_;
    copy_from_ = i_;
  }

  const char* string() {  // p_[i_] == '"'
    for (++i_;;) {
      while (i_ < n_ && !kStringStop[p_[i_]]) ++i_;
      if (i_ >= n_) return kUnterminated;
      const unsigned char c = p_[i_];
      if (c == '"') {
        ++i_;
        return nullptr;
      }
      if (c == '\\') {
        if (i_ + 1 >= n_) return kUnterminated;
        switch (p_[i_ + 1]) {
          case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            i_ += 2;
            break;
          case 'u':
            if (n_ - i_ < 6) return kEscape;
            for (std::size_t k = 2; k < 6; ++k)
              if (hex_value(p_[i_ + k]) < 0) return kEscape;
            i_ += 6;
            break;
          default: return kEscape;
        }
        continue;
      }
      if (c < 0x20) return kControl;
      const std::size_t len = utf8_sequence(p_ + i_, n_ - i_);
      if (len == 0) return kUtf8;
      i_ += len;
    }
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  const char* number() {
    if (p_[i_] == '-') ++i_;
    if (i_ >= n_) return kNumber;
    if (p_[i_] == '0') {
      ++i_;
    } else if (is_digit(p_[i_])) {
      while (i_ < n_ && is_digit(p_[i_])) ++i_;
    } else {
      return kNumber;
    }
    if (i_ < n_ && p_[i_] == '.') {
      ++i_;
      if (i_ >= n_ || !is_digit(p_[i_])) return kNumber;
      while (i_ < n_ && is_digit(p_[i_])) ++i_;
    }
    if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
      ++i_;
      if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) ++i_;
      if (i_ >= n_ || !is_digit(p_[i_])) return kNumber;
      while (i_ < n_ && is_digit(p_[i_])) ++i_;
    }
    // A digit, '.' or letter right after is no delimiter: "01", "1.2.3".
    if (i_ < n_ && (is_digit(p_[i_]) || p_[i_] == '.' || p_[i_] == 'e' || p_[i_] == 'E' || p_[i_] == '+' ||
                    p_[i_] == '-'))
      return kNumber;
    return nullptr;
  }

  const char* literal(const char* word) {
    const std::size_t len = std::strlen(word);
    if (n_ - i_ < len || std::memcmp(p_ + i_, word, len) != 0) return kNotJson;
    i_ += len;
    return nullptr;
  }

  const unsigned char* p_;
  std::size_t n_;
  std::size_t i_ = 0;
  std::string* out_;
  std::size_t copy_from_ = 0;  // start of the input not yet copied to out_
  std::size_t max_depth_;
  std::vector<JsonMember>* members_;
  JsonContainerCounts* counts_;
};

void append_utf8(std::string* out, unsigned cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

unsigned hex4(std::string_view s, std::size_t at) {
  unsigned v = 0;
  for (std::size_t k = at; k < at + 4; ++k) v = (v << 4) | static_cast<unsigned>(hex_value(static_cast<unsigned char>(s[k])));
  return v;
}

}  // namespace

const char* json_strict(std::string_view text, std::string* out, int max_depth, std::vector<JsonMember>* members) {
  std::string scratch;  // member offsets are into the minified text
  if (members && !out) out = &scratch;
  if (out) {
    out->clear();
    out->reserve(text.size());
  }
  if (members) members->clear();
  return Reader(text, out, max_depth, members).run();
}

const char* json_container_counts(std::string_view text, JsonContainerCounts* counts, int max_depth) {
  counts->items.clear();
  counts->open.clear();
  return Reader(text, nullptr, max_depth, nullptr, counts).run();
}

std::size_t json_string_end(std::string_view text, std::size_t open, bool* escaped) {
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '"') return i + 1;
    if (text[i] == '\\') {  // an escape: the escaped byte is no quote
      *escaped = true;
      ++i;
    }
  }
  return text.size();  // not valid: never for checked text
}

void json_unescape(std::string_view body, std::string* out, LoneSurrogate lone) {
  for (std::size_t i = 0; i < body.size();) {
    const std::size_t run = body.find('\\', i);
    if (run == std::string_view::npos) {
      out->append(body.substr(i));
      return;
    }
    out->append(body.substr(i, run - i));
    i = run + 1;
    if (i >= body.size()) return;
    const char e = body[i++];
    switch (e) {
      case 'u': {
        if (i + 4 > body.size()) return;
        unsigned cp = hex4(body, i);
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= body.size() && body[i] == '\\' && body[i + 1] == 'u') {
          const unsigned lo = hex4(body, i + 2);
          if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        if (cp >= 0xD800 && cp < 0xE000 && lone == LoneSurrogate::Replace) cp = 0xFFFD;
        append_utf8(out, cp);  // a lone surrogate kept: its (invalid) three-byte form
        break;
      }
      default: out->push_back(kEscapedByte[static_cast<unsigned char>(e)]);
    }
  }
}

void json_append_string(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    if (const char letter = kEscapeLetter[c]) {
      const char esc[] = {'\\', letter};
      out->append(esc, sizeof esc);
    } else if (c < 0x20) {
      const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out->append(esc, sizeof esc);
    } else {
      out->push_back(static_cast<char>(c));  // UTF-8 passes through
    }
  }
  out->push_back('"');
}

std::size_t json_string_size(std::string_view s) {
  std::size_t n = 2;
  for (unsigned char c : s)
    n += kEscapeLetter[c] ? 2 : c < 0x20 ? 6 : 1;
  return n;
}

}  // namespace rtpush
