// Encoding and bounded decoding of Vigil events (msgpack maps with string keys).
#pragma once

#include "vigil/events/schema.hpp"

#include <msgpack.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::events {

// Kind-specific key/value pairs, packed ahead of time so that the publisher can
// prepend the header (with its own run and seq) without re-encoding them.
class Body {
 public:
  Body();

  // Packs `key` and returns the packer; the caller must pack exactly one value.
  msgpack::packer<msgpack::sbuffer>& key(std::string_view name);

  template <typename T>
  Body& set(std::string_view name, const T& value) {
    key(name).pack(value);
    return *this;
  }
  Body& setNil(std::string_view name);
  Body& set(std::string_view name, std::string_view value);
  Body& set(std::string_view name, const char* value) { return set(name, std::string_view(value)); }

  std::size_t pairs() const { return pairs_; }
  std::string_view bytes() const { return {buffer_.data(), buffer_.size()}; }

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> packer_;
  std::size_t pairs_ = 0;
};

// The second message frame: one msgpack map, header keys first, then the body.
std::string encode(const Header& header, std::string_view body_pairs, std::size_t body_pair_count);
inline std::string encode(const Header& header, const Body& body) {
  return encode(header, body.bytes(), body.pairs());
}

// Untrusted input is decoded with hard limits: a hostile message costs a bounded
// amount of memory and is rejected, never misread.
struct DecodeLimits {
  std::size_t max_bytes = 1 << 20;
  std::size_t max_array = 10000;
  std::size_t max_map = 1000;
  std::size_t max_str = 64 * 1024;
  std::size_t max_bin = 256 * 1024;
  std::size_t max_ext = 0;
  std::size_t max_depth = 16;
};

enum class DecodeStatus {
  kOk,
  kTooLarge,       // more bytes than DecodeLimits::max_bytes
  kMalformed,      // not msgpack, trailing bytes, or a limit was exceeded
  kNotAnEvent,     // valid msgpack but not a map with the required keys and types
  kNewerVersion,   // `v` is newer than this library understands: reported, not interpreted
  kTopicMismatch,  // the topic frame disagrees with the kind/source in the map
  kTooManyTopics,  // (Subscriber only) a well-formed event on a topic beyond max_topics
};
std::string_view toString(DecodeStatus status);

// A decoded event: the typed header plus the whole map for kind-specific keys.
class Event {
 public:
  Header header;
  std::int64_t version = 0;
  std::string topic;

  // Kind-specific (or any) key; nullptr if absent.
  const msgpack::object* find(std::string_view key) const;
  std::optional<std::int64_t> getInt(std::string_view key) const;
  std::optional<double> getDouble(std::string_view key) const;
  std::optional<std::string> getString(std::string_view key) const;
  const msgpack::object& map() const { return handle_->get(); }

 private:
  friend struct DecodeResult decode(std::string_view, const void*, std::size_t, const DecodeLimits&);
  std::shared_ptr<msgpack::object_handle> handle_;
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kMalformed;
  std::string detail;            // why, for logs and counters
  std::optional<Event> event;    // set when status == kOk
  std::int64_t version = 0;      // set when status == kNewerVersion
};

DecodeResult decode(std::string_view topic, const void* data, std::size_t size,
                    const DecodeLimits& limits = {});

// Map lookups on raw msgpack objects, for kind-specific nested maps.
const msgpack::object* findKey(const msgpack::object& map, std::string_view key);
std::optional<std::int64_t> asInt(const msgpack::object* object);
std::optional<double> asDouble(const msgpack::object* object);
std::optional<std::string> asString(const msgpack::object* object);

// JSON text of a msgpack object (binary as base64-free hex string, non-string
// map keys stringified). Used by the JSON-lines printers and the recorder.
std::string toJson(const msgpack::object& object);

}  // namespace vigil::events
