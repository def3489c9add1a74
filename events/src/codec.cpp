#include "vigil/events/codec.hpp"

#include "utf8.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace vigil::events {

Body::Body() : packer_(buffer_) {}

msgpack::packer<msgpack::sbuffer>& Body::key(std::string_view name) {
  packer_.pack_str(static_cast<std::uint32_t>(name.size()));
  packer_.pack_str_body(name.data(), static_cast<std::uint32_t>(name.size()));
  ++pairs_;
  return packer_;
}

Body& Body::setNil(std::string_view name) {
  key(name).pack_nil();
  return *this;
}

Body& Body::set(std::string_view name, std::string_view value) {
  auto& packer = key(name);
  packer.pack_str(static_cast<std::uint32_t>(value.size()));
  packer.pack_str_body(value.data(), static_cast<std::uint32_t>(value.size()));
  return *this;
}

namespace {

void packString(msgpack::packer<msgpack::sbuffer>& packer, std::string_view text) {
  packer.pack_str(static_cast<std::uint32_t>(text.size()));
  packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

}  // namespace

std::string encode(const Header& header, std::string_view body_pairs, std::size_t body_pair_count) {
  msgpack::sbuffer buffer(256 + body_pairs.size());
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_map(static_cast<std::uint32_t>(kHeaderPairs + body_pair_count));
  packString(packer, key::kVersion);
  packer.pack(kSchemaVersion);
  packString(packer, key::kKind);
  packString(packer, header.kind);
  packString(packer, key::kSource);
  packString(packer, header.source);
  packString(packer, key::kRun);
  packString(packer, header.run);
  packString(packer, key::kSeq);
  packer.pack(header.seq);
  packString(packer, key::kTs);
  packer.pack(header.ts_ns);
  packString(packer, key::kPts);
  if (header.pts_ns) {
    packer.pack(*header.pts_ns);
  } else {
    packer.pack_nil();
  }
  packString(packer, key::kFrame);
  packer.pack(header.frame);
  packString(packer, key::kWidth);
  packer.pack(header.width);
  packString(packer, key::kHeight);
  packer.pack(header.height);
  buffer.write(body_pairs.data(), body_pairs.size());
  return std::string(buffer.data(), buffer.size());
}

std::string_view toString(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::kOk: return "ok";
    case DecodeStatus::kTooLarge: return "too-large";
    case DecodeStatus::kMalformed: return "malformed";
    case DecodeStatus::kNotAnEvent: return "not-an-event";
    case DecodeStatus::kNewerVersion: return "newer-version";
    case DecodeStatus::kTopicMismatch: return "topic-mismatch";
    case DecodeStatus::kTooManyTopics: return "too-many-topics";
  }
  return "unknown";
}

const msgpack::object* findKey(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& pair = map.via.map.ptr[i];
    if (pair.key.type == msgpack::type::STR &&
        std::string_view(pair.key.via.str.ptr, pair.key.via.str.size) == key) {
      return &pair.val;
    }
  }
  return nullptr;
}

std::optional<std::int64_t> asInt(const msgpack::object* object) {
  if (!object) return std::nullopt;
  if (object->type == msgpack::type::POSITIVE_INTEGER) {
    if (object->via.u64 > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(object->via.u64);
  }
  if (object->type == msgpack::type::NEGATIVE_INTEGER) return object->via.i64;
  return std::nullopt;
}

std::optional<double> asDouble(const msgpack::object* object) {
  if (!object) return std::nullopt;
  if (object->type == msgpack::type::FLOAT32 || object->type == msgpack::type::FLOAT64) {
    return object->via.f64;
  }
  if (auto integer = asInt(object)) return static_cast<double>(*integer);
  return std::nullopt;
}

std::optional<std::string> asString(const msgpack::object* object) {
  if (!object || object->type != msgpack::type::STR) return std::nullopt;
  return std::string(object->via.str.ptr, object->via.str.size);
}

const msgpack::object* Event::find(std::string_view key) const { return findKey(map(), key); }
std::optional<std::int64_t> Event::getInt(std::string_view key) const { return asInt(find(key)); }
std::optional<double> Event::getDouble(std::string_view key) const { return asDouble(find(key)); }
std::optional<std::string> Event::getString(std::string_view key) const {
  return asString(find(key));
}

namespace {

// The first string key that occurs twice in a map, if any. Sorting keeps it
// O(n log n) for the largest map the limits allow.
std::optional<std::string_view> duplicateKey(const msgpack::object& map) {
  std::vector<std::string_view> keys;
  keys.reserve(map.via.map.size);
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& key = map.via.map.ptr[i].key;
    if (key.type == msgpack::type::STR) keys.emplace_back(key.via.str.ptr, key.via.str.size);
  }
  std::sort(keys.begin(), keys.end());
  const auto repeated = std::adjacent_find(keys.begin(), keys.end());
  if (repeated == keys.end()) return std::nullopt;
  return *repeated;
}

// Why `object` is not what the schema allows for its strings, or nullopt: every
// string (keys included) is UTF-8, so any consumer can print it as JSON; the
// keys of a `zones` map are zone names. Depth is bounded by max_depth.
std::optional<std::string> invalidString(const msgpack::object& object, std::size_t depth) {
  switch (object.type) {
    case msgpack::type::STR:
      if (!isValidUtf8(std::string_view(object.via.str.ptr, object.via.str.size))) {
        return "a string is not valid UTF-8: '" +
               logSafe(std::string_view(object.via.str.ptr, object.via.str.size), 64) + "'";
      }
      return std::nullopt;
    case msgpack::type::ARRAY:
      for (std::uint32_t i = 0; i < object.via.array.size; ++i) {
        if (auto bad = invalidString(object.via.array.ptr[i], depth + 1)) return bad;
      }
      return std::nullopt;
    case msgpack::type::MAP:
      for (std::uint32_t i = 0; i < object.via.map.size; ++i) {
        const auto& pair = object.via.map.ptr[i];
        if (auto bad = invalidString(pair.key, depth + 1)) return bad;
        if (auto bad = invalidString(pair.val, depth + 1)) return bad;
        // The top level's `zones`: its keys are zone names.
        if (depth == 1 && pair.key.type == msgpack::type::STR && pair.val.type == msgpack::type::MAP &&
            std::string_view(pair.key.via.str.ptr, pair.key.via.str.size) == "zones") {
          for (std::uint32_t k = 0; k < pair.val.via.map.size; ++k) {
            const auto& zone = pair.val.via.map.ptr[k].key;
            if (zone.type != msgpack::type::STR ||
                !isValidZoneName(std::string_view(zone.via.str.ptr, zone.via.str.size))) {
              std::string text = zone.type == msgpack::type::STR
                                     ? std::string(zone.via.str.ptr, zone.via.str.size)
                                     : std::string("(not a string)");
              return "invalid zone name '" + logSafe(text, 64) +
                     "' (1-64 bytes of UTF-8, no control characters)";
            }
          }
        }
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

DecodeResult decode(std::string_view topic, const void* data, std::size_t size,
                    const DecodeLimits& limits) {
  DecodeResult result;
  if (size > limits.max_bytes) {
    result.status = DecodeStatus::kTooLarge;
    result.detail = "message of " + std::to_string(size) + " bytes exceeds the limit of " +
                    std::to_string(limits.max_bytes);
    return result;
  }
  auto handle = std::make_shared<msgpack::object_handle>();
  try {
    std::size_t offset = 0;
    msgpack::unpack(*handle, static_cast<const char*>(data), size, offset, nullptr, nullptr,
                    msgpack::unpack_limit(limits.max_array, limits.max_map, limits.max_str,
                                          limits.max_bin, limits.max_ext, limits.max_depth));
    if (offset != size) {
      result.detail = "trailing bytes after the event map";
      return result;
    }
  } catch (const std::exception& error) {
    result.detail = std::string("msgpack: ") + error.what();
    return result;
  }

  const msgpack::object& map = handle->get();
  result.status = DecodeStatus::kNotAnEvent;
  if (map.type != msgpack::type::MAP) {
    result.detail = "event is not a map";
    return result;
  }
  if (const auto duplicate = duplicateKey(map)) {
    // Readers disagree on duplicates (this one would see the first, Python's
    // dict keeps the last): one message must not be read two ways.
    result.detail = "duplicate key '" + logSafe(*duplicate) + "'";
    return result;
  }
  const auto version = asInt(findKey(map, key::kVersion));
  if (!version || *version < 1) {
    result.detail = "missing or invalid 'v'";
    return result;
  }
  if (*version > kSchemaVersion) {
    // Keys may have changed meaning: report, do not interpret.
    result.status = DecodeStatus::kNewerVersion;
    result.version = *version;
    result.detail = "schema version " + std::to_string(*version) + " is newer than " +
                    std::to_string(kSchemaVersion);
    return result;
  }

  Event event;
  event.version = *version;
  event.topic = std::string(topic);
  auto required_string = [&](std::string_view name, std::string& out) {
    auto value = asString(findKey(map, name));
    if (!value) {
      result.detail = "missing or non-string '" + std::string(name) + "'";
      return false;
    }
    out = std::move(*value);
    return true;
  };
  auto required_int = [&](std::string_view name, auto& out) {
    auto value = asInt(findKey(map, name));
    if (!value || *value < 0) {
      result.detail = "missing or invalid '" + std::string(name) + "'";
      return false;
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(*value);
    return true;
  };
  Header& header = event.header;
  if (!required_string(key::kKind, header.kind) || !required_string(key::kSource, header.source) ||
      !required_string(key::kRun, header.run) || !required_int(key::kSeq, header.seq) ||
      !required_int(key::kTs, header.ts_ns) || !required_int(key::kFrame, header.frame) ||
      !required_int(key::kWidth, header.width) || !required_int(key::kHeight, header.height)) {
    return result;
  }
  // Ids reach topics, file names, log lines and SQL rows: only the documented
  // charset gets through, so none of them can be forged or misread downstream.
  for (const auto& [name, value] : {std::pair{key::kKind, &header.kind},
                                    std::pair{key::kSource, &header.source},
                                    std::pair{key::kRun, &header.run}}) {
    if (!isValidSourceId(*value)) {
      result.detail = "invalid '" + std::string(name) + "' '" + logSafe(*value, kMaxIdLength) +
                      "' (1-64 of A-Z a-z 0-9 - _ .)";
      return result;
    }
  }
  if (const auto bad = invalidString(map, 1)) {
    result.detail = *bad;
    return result;
  }
  const msgpack::object* pts = findKey(map, key::kPts);
  if (pts && pts->type != msgpack::type::NIL) {
    auto value = asInt(pts);
    if (!value) {
      result.detail = "invalid 'pts'";
      return result;
    }
    header.pts_ns = *value;
  }
  if (!topic.empty() && topic != topicFor(header.kind, header.source)) {
    result.status = DecodeStatus::kTopicMismatch;
    result.detail = "topic '" + logSafe(topic) + "' does not match kind/source";
    return result;
  }
  event.handle_ = std::move(handle);
  result.status = DecodeStatus::kOk;
  result.detail.clear();
  result.event = std::move(event);
  return result;
}

namespace {

// JSON text must be UTF-8; msgpack strings from the wire need not be. Invalid
// bytes become U+FFFD so that one bad string never makes a whole line unparsable.
void appendJsonString(std::string& out, const char* text, std::size_t size) {
  out.push_back('"');
  for (std::size_t i = 0; i < size; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t length = detail::utf8SequenceLength(std::string_view(text + i, size - i));
      if (length == 0) {
        out += "\\ufffd";
      } else {
        out.append(text + i, length);
        i += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void appendJson(std::string& out, const msgpack::object& object) {
  switch (object.type) {
    case msgpack::type::NIL: out += "null"; break;
    case msgpack::type::BOOLEAN: out += object.via.boolean ? "true" : "false"; break;
    case msgpack::type::POSITIVE_INTEGER: out += std::to_string(object.via.u64); break;
    case msgpack::type::NEGATIVE_INTEGER: out += std::to_string(object.via.i64); break;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: {
      if (!std::isfinite(object.via.f64)) {
        out += "null";
        break;
      }
      char number[32];
      std::snprintf(number, sizeof number, "%.17g", object.via.f64);
      out += number;
      break;
    }
    case msgpack::type::STR: appendJsonString(out, object.via.str.ptr, object.via.str.size); break;
    case msgpack::type::BIN: {
      static const char* const kHex = "0123456789abcdef";
      std::string hex;
      for (std::uint32_t i = 0; i < object.via.bin.size; ++i) {
        const auto byte = static_cast<unsigned char>(object.via.bin.ptr[i]);
        hex.push_back(kHex[byte >> 4]);
        hex.push_back(kHex[byte & 15]);
      }
      appendJsonString(out, hex.data(), hex.size());
      break;
    }
    case msgpack::type::ARRAY:
      out.push_back('[');
      for (std::uint32_t i = 0; i < object.via.array.size; ++i) {
        if (i) out.push_back(',');
        appendJson(out, object.via.array.ptr[i]);
      }
      out.push_back(']');
      break;
    case msgpack::type::MAP:
      out.push_back('{');
      for (std::uint32_t i = 0; i < object.via.map.size; ++i) {
        if (i) out.push_back(',');
        const auto& pair = object.via.map.ptr[i];
        if (pair.key.type == msgpack::type::STR) {
          appendJsonString(out, pair.key.via.str.ptr, pair.key.via.str.size);
        } else {
          std::string key_text;
          appendJson(key_text, pair.key);
          appendJsonString(out, key_text.data(), key_text.size());
        }
        out.push_back(':');
        appendJson(out, pair.val);
      }
      out.push_back('}');
      break;
    default: out += "null"; break;  // EXT: never produced by Vigil
  }
}

}  // namespace

// Depth is bounded by DecodeLimits::max_depth at unpack time, so recursion is safe.
std::string toJson(const msgpack::object& object) {
  std::string out;
  appendJson(out, object);
  return out;
}

}  // namespace vigil::events
