// The event codec on its own: what encode() writes, and what decode() accepts,
// reports and refuses. Hostile inputs are built byte by byte.
#include "vigil/events/codec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace vigil::events {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

constexpr const char* kTopic = "vigil/faces/cam-1";

Header sampleHeader() {
  Header header;
  header.kind = "faces";
  header.source = "cam-1";
  header.run = "0123456789abcdef";
  header.seq = 7;
  header.ts_ns = 1700000000000000001;
  header.pts_ns = 40000000;
  header.frame = 1;
  header.width = 640;
  header.height = 480;
  return header;
}

void packString(Packer& packer, std::string_view text) {
  packer.pack_str(static_cast<std::uint32_t>(text.size()));
  packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

// An event map built key by key, so that a test can drop or retype one key.
struct Field {
  std::string key;
  std::function<void(Packer&)> value;
};
using Fields = std::vector<Field>;

Fields validFields() {
  return {
      {"v", [](Packer& p) { p.pack(1); }},
      {"kind", [](Packer& p) { packString(p, "faces"); }},
      {"source", [](Packer& p) { packString(p, "cam-1"); }},
      {"run", [](Packer& p) { packString(p, "0123456789abcdef"); }},
      {"seq", [](Packer& p) { p.pack(7); }},
      {"ts", [](Packer& p) { p.pack(std::int64_t{1700000000000000001}); }},
      {"pts", [](Packer& p) { p.pack_nil(); }},
      {"frame", [](Packer& p) { p.pack(1); }},
      {"width", [](Packer& p) { p.pack(640); }},
      {"height", [](Packer& p) { p.pack(480); }},
  };
}

Fields without(Fields fields, const std::string& key) {
  fields.erase(std::remove_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == key; }),
               fields.end());
  return fields;
}

Fields replaced(Fields fields, const std::string& key, std::function<void(Packer&)> value) {
  for (auto& field : fields) {
    if (field.key == key) field.value = value;
  }
  return fields;
}

std::string pack(const Fields& fields) {
  msgpack::sbuffer buffer;
  Packer packer(buffer);
  packer.pack_map(static_cast<std::uint32_t>(fields.size()));
  for (const auto& field : fields) {
    packString(packer, field.key);
    field.value(packer);
  }
  return std::string(buffer.data(), buffer.size());
}

DecodeResult decodeBytes(const std::string& bytes, std::string_view topic = kTopic,
                         const DecodeLimits& limits = {}) {
  return decode(topic, bytes.data(), bytes.size(), limits);
}

std::string json(const Event& event) { return toJson(event.map()); }

TEST(Codec, RoundTripKeepsHeaderAndBody) {
  Body body;
  body.set("count", 3).set("label", "entrance").set("ratio", 0.5).set("flag", true).setNil("none");
  Packer& nested = body.key("zones");
  nested.pack_map(1);
  packString(nested, "queue-1");
  nested.pack(2);
  const std::string bytes = encode(sampleHeader(), body);

  const DecodeResult result = decodeBytes(bytes);
  ASSERT_EQ(result.status, DecodeStatus::kOk) << result.detail;
  ASSERT_TRUE(result.event);
  const Event& event = *result.event;
  const Header expected = sampleHeader();
  EXPECT_EQ(event.version, 1);
  EXPECT_EQ(event.topic, kTopic);
  EXPECT_EQ(event.header.kind, expected.kind);
  EXPECT_EQ(event.header.source, expected.source);
  EXPECT_EQ(event.header.run, expected.run);
  EXPECT_EQ(event.header.seq, expected.seq);
  EXPECT_EQ(event.header.ts_ns, expected.ts_ns);
  EXPECT_EQ(event.header.pts_ns, expected.pts_ns);
  EXPECT_EQ(event.header.frame, expected.frame);
  EXPECT_EQ(event.header.width, expected.width);
  EXPECT_EQ(event.header.height, expected.height);
  EXPECT_EQ(event.getInt("count"), 3);
  EXPECT_EQ(event.getString("label"), "entrance");
  EXPECT_EQ(event.getDouble("ratio"), 0.5);
  EXPECT_EQ(event.getDouble("count"), 3.0) << "integers read as doubles too";
  ASSERT_NE(event.find("none"), nullptr);
  EXPECT_EQ(event.find("none")->type, msgpack::type::NIL);
  ASSERT_NE(event.find("zones"), nullptr);
  EXPECT_EQ(asInt(findKey(*event.find("zones"), "queue-1")), 2);
  EXPECT_EQ(event.find("absent"), nullptr);
  EXPECT_EQ(event.map().via.map.size, kHeaderPairs + body.pairs());
  // The header keys come first, in the documented order.
  EXPECT_EQ(asString(&event.map().via.map.ptr[0].key), "v");
  EXPECT_EQ(asString(&event.map().via.map.ptr[kHeaderPairs - 1].key), "height");
}

TEST(Codec, NilPtsDecodesAsNoPts) {
  Header header = sampleHeader();
  header.pts_ns.reset();
  const DecodeResult result = decodeBytes(encode(header, Body{}));
  ASSERT_EQ(result.status, DecodeStatus::kOk) << result.detail;
  EXPECT_FALSE(result.event->header.pts_ns.has_value());
  ASSERT_NE(result.event->find("pts"), nullptr) << "pts is present, as nil";
  EXPECT_EQ(result.event->find("pts")->type, msgpack::type::NIL);
  EXPECT_NE(json(*result.event).find("\"pts\":null"), std::string::npos);
}

TEST(Codec, AbsentPtsIsAcceptedAsNil) {
  const DecodeResult result = decodeBytes(pack(without(validFields(), "pts")));
  ASSERT_EQ(result.status, DecodeStatus::kOk) << result.detail;
  EXPECT_FALSE(result.event->header.pts_ns.has_value());
}

TEST(Codec, UnknownKeysAreIgnored) {
  Fields fields = validFields();
  fields.push_back({"future_scalar", [](Packer& p) { p.pack(-5); }});
  fields.push_back({"future_map", [](Packer& p) {
                      p.pack_map(1);
                      packString(p, "nested");
                      p.pack_array(2);
                      p.pack(1.5);
                      p.pack_false();
                    }});
  fields.push_back({"future_bin", [](Packer& p) {
                      p.pack_bin(2);
                      p.pack_bin_body("\x01\x02", 2);
                    }});
  // Unknown keys may come anywhere, even first.
  fields.insert(fields.begin(), {"a", [](Packer& p) { p.pack_nil(); }});
  std::string bytes = pack(fields);
  const DecodeResult result = decodeBytes(bytes);
  ASSERT_EQ(result.status, DecodeStatus::kOk) << result.detail;
  EXPECT_EQ(result.event->header.seq, 7u);
  EXPECT_EQ(result.event->getInt("future_scalar"), -5);
}

TEST(Codec, NonStringKeysAreIgnored) {
  msgpack::sbuffer buffer;
  Packer packer(buffer);
  const Fields fields = validFields();
  packer.pack_map(static_cast<std::uint32_t>(fields.size() + 1));
  packer.pack(42);  // an integer key
  packString(packer, "answer");
  for (const auto& field : fields) {
    packString(packer, field.key);
    field.value(packer);
  }
  const DecodeResult result = decodeBytes(std::string(buffer.data(), buffer.size()));
  ASSERT_EQ(result.status, DecodeStatus::kOk) << result.detail;
  EXPECT_NE(json(*result.event).find("\"42\":\"answer\""), std::string::npos) << json(*result.event);
}

TEST(Codec, NewerVersionIsReportedNotInterpreted) {
  // A v2 event whose keys changed meaning: even `seq` as a string must not
  // stop the report, and nothing of it is handed out.
  const Fields fields =
      replaced(replaced(validFields(), "v", [](Packer& p) { p.pack(2); }), "seq",
               [](Packer& p) { packString(p, "seven"); });
  const DecodeResult result = decodeBytes(pack(fields));
  EXPECT_EQ(result.status, DecodeStatus::kNewerVersion);
  EXPECT_EQ(result.version, 2);
  EXPECT_FALSE(result.event.has_value());
  EXPECT_NE(result.detail.find("2"), std::string::npos) << result.detail;
}

TEST(Codec, EachMissingHeaderKeyIsNotAnEvent) {
  for (const char* key : {"v", "kind", "source", "run", "seq", "ts", "frame", "width", "height"}) {
    const DecodeResult result = decodeBytes(pack(without(validFields(), key)));
    EXPECT_EQ(result.status, DecodeStatus::kNotAnEvent) << "without '" << key << "'";
    EXPECT_FALSE(result.event.has_value());
    EXPECT_NE(result.detail.find(key), std::string::npos) << "detail names the key: " << result.detail;
  }
}

TEST(Codec, WrongTypedHeaderKeysAreNotAnEvent) {
  struct Case {
    const char* key;
    const char* what;
    std::function<void(Packer&)> value;
  };
  const std::vector<Case> cases = {
      {"v", "string", [](Packer& p) { packString(p, "1"); }},
      {"v", "zero", [](Packer& p) { p.pack(0); }},
      {"v", "negative", [](Packer& p) { p.pack(-1); }},
      {"v", "float", [](Packer& p) { p.pack(1.5); }},
      {"kind", "integer", [](Packer& p) { p.pack(3); }},
      {"kind", "binary", [](Packer& p) { p.pack_bin(5); p.pack_bin_body("faces", 5); }},
      {"source", "nil", [](Packer& p) { p.pack_nil(); }},
      {"run", "array", [](Packer& p) { p.pack_array(0); }},
      {"seq", "string", [](Packer& p) { packString(p, "7"); }},
      {"seq", "negative", [](Packer& p) { p.pack(-7); }},
      {"seq", "float", [](Packer& p) { p.pack(7.5); }},
      {"seq", "beyond int64", [](Packer& p) { p.pack(std::numeric_limits<std::uint64_t>::max()); }},
      {"ts", "nil", [](Packer& p) { p.pack_nil(); }},
      {"ts", "negative", [](Packer& p) { p.pack(-1); }},
      {"pts", "string", [](Packer& p) { packString(p, "0"); }},
      {"pts", "float", [](Packer& p) { p.pack(0.04); }},
      {"frame", "boolean", [](Packer& p) { p.pack_true(); }},
      {"width", "negative", [](Packer& p) { p.pack(-640); }},
      {"height", "map", [](Packer& p) { p.pack_map(0); }},
  };
  for (const auto& c : cases) {
    const DecodeResult result = decodeBytes(pack(replaced(validFields(), c.key, c.value)));
    EXPECT_EQ(result.status, DecodeStatus::kNotAnEvent) << "'" << c.key << "' as " << c.what;
    EXPECT_FALSE(result.event.has_value());
  }
}

TEST(Codec, NonMapIsNotAnEvent) {
  for (const std::string& bytes : {std::string("\xc0", 1), std::string("\x93\x01\x02\x03"),
                                   std::string("\xa5hello"), std::string("\x2a")}) {
    EXPECT_EQ(decodeBytes(bytes).status, DecodeStatus::kNotAnEvent);
  }
}

TEST(Codec, DuplicateKeyIsNotAnEvent) {
  // Readers differ on duplicates (first wins here, last in Python's dict), so
  // one message could be read two ways: refused instead.
  Fields fields = validFields();
  fields.push_back({"seq", [](Packer& p) { p.pack(8); }});
  DecodeResult result = decodeBytes(pack(fields));
  EXPECT_EQ(result.status, DecodeStatus::kNotAnEvent);
  EXPECT_NE(result.detail.find("seq"), std::string::npos) << result.detail;

  fields = validFields();
  fields.push_back({"count", [](Packer& p) { p.pack(1); }});
  fields.push_back({"count", [](Packer& p) { p.pack(2); }});
  result = decodeBytes(pack(fields));
  EXPECT_EQ(result.status, DecodeStatus::kNotAnEvent) << "body keys are unique too";
}

TEST(Codec, EveryTruncationIsMalformed) {
  const std::string bytes = encode(sampleHeader(), Body().set("count", 1).set("label", "x"));
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    const DecodeResult result = decodeBytes(bytes.substr(0, size));
    EXPECT_EQ(result.status, DecodeStatus::kMalformed) << "first " << size << " of " << bytes.size();
  }
}

TEST(Codec, TrailingBytesAreMalformed) {
  const std::string bytes = encode(sampleHeader(), Body{});
  for (const std::string& tail : {std::string("\xc0", 1), std::string("\x00", 1), bytes}) {
    const DecodeResult result = decodeBytes(bytes + tail);
    EXPECT_EQ(result.status, DecodeStatus::kMalformed);
    EXPECT_NE(result.detail.find("trailing"), std::string::npos) << result.detail;
  }
}

// An event whose `deep` key holds `levels` nested one-element arrays.
std::string eventWithNesting(std::size_t levels) {
  Fields fields = validFields();
  fields.push_back({"deep", [levels](Packer& p) {
                      for (std::size_t i = 0; i < levels; ++i) p.pack_array(1);
                      p.pack_nil();
                    }});
  return pack(fields);
}

TEST(Codec, NestingUpToMaxDepthDecodesAndBeyondIsMalformed) {
  const DecodeLimits limits;
  // The event map itself is the first level.
  const std::size_t allowed_inside = limits.max_depth - 1;
  const DecodeResult at_limit = decodeBytes(eventWithNesting(allowed_inside));
  EXPECT_EQ(at_limit.status, DecodeStatus::kOk) << at_limit.detail;
  const DecodeResult beyond = decodeBytes(eventWithNesting(allowed_inside + 1));
  EXPECT_EQ(beyond.status, DecodeStatus::kMalformed);
  EXPECT_NE(beyond.detail.find("depth"), std::string::npos) << beyond.detail;

  DecodeLimits shallow;
  shallow.max_depth = 4;
  EXPECT_EQ(decodeBytes(eventWithNesting(3), kTopic, shallow).status, DecodeStatus::kOk);
  EXPECT_EQ(decodeBytes(eventWithNesting(4), kTopic, shallow).status, DecodeStatus::kMalformed);
}

TEST(Codec, NestingBombIsMalformedWithoutRecursion) {
  // 500 000 nested fixarrays in 500 kB: refused at level 17, no stack overflow.
  constexpr std::size_t kLevels = 500000;
  std::string bomb(kLevels, '\x91');
  bomb.push_back('\xc0');
  EXPECT_EQ(decodeBytes(bomb).status, DecodeStatus::kMalformed);
  std::string map_bomb;
  for (std::size_t i = 0; i < kLevels / 2; ++i) map_bomb += "\x81\xa1k";
  map_bomb.push_back('\xc0');
  EXPECT_EQ(decodeBytes(map_bomb).status, DecodeStatus::kMalformed);
}

TEST(Codec, SizeLimitsOfEachTypeAreEnforced) {
  const DecodeLimits limits;
  auto with = [](std::function<void(Packer&)> value) {
    Fields fields = validFields();
    fields.push_back({"x", std::move(value)});
    return pack(fields);
  };
  const std::string long_text(limits.max_str + 1, 'a');
  const std::string long_blob(limits.max_bin + 1, '\x01');
  const std::string at_limit_text(limits.max_str, 'a');
  EXPECT_EQ(decodeBytes(with([&](Packer& p) { packString(p, long_text); })).status, DecodeStatus::kMalformed);
  EXPECT_EQ(decodeBytes(with([&](Packer& p) { packString(p, at_limit_text); })).status, DecodeStatus::kOk);
  EXPECT_EQ(decodeBytes(with([&](Packer& p) {
                          p.pack_bin(static_cast<std::uint32_t>(long_blob.size()));
                          p.pack_bin_body(long_blob.data(), static_cast<std::uint32_t>(long_blob.size()));
                        })).status,
            DecodeStatus::kMalformed);
  EXPECT_EQ(decodeBytes(with([&](Packer& p) {
                          p.pack_array(static_cast<std::uint32_t>(limits.max_array + 1));
                          for (std::size_t i = 0; i <= limits.max_array; ++i) p.pack_nil();
                        })).status,
            DecodeStatus::kMalformed);
  EXPECT_EQ(decodeBytes(with([&](Packer& p) {
                          p.pack_map(static_cast<std::uint32_t>(limits.max_map + 1));
                          for (std::size_t i = 0; i <= limits.max_map; ++i) {
                            p.pack(static_cast<std::uint64_t>(i));
                            p.pack_nil();
                          }
                        })).status,
            DecodeStatus::kMalformed);
  // Extension types are never part of the schema.
  EXPECT_EQ(decodeBytes(with([](Packer& p) {
                          p.pack_ext(1, 7);
                          p.pack_ext_body("\x2a", 1);
                        })).status,
            DecodeStatus::kMalformed);
}

// Messages that declare far more data than they carry. The 5-byte ones
// declare 4 GiB; none may make the decoder reserve that memory.
std::vector<std::string> lyingMessages() {
  return {
      std::string("\xdb\xff\xff\xff\xff", 5),              // str32 of 4 GiB
      std::string("\xc6\xff\xff\xff\xff", 5),              // bin32 of 4 GiB
      std::string("\xdd\xff\xff\xff\xff", 5),              // array32 of 4 G elements
      std::string("\xdf\xff\xff\xff\xff", 5),              // map32 of 4 G pairs
      std::string("\xc9\xff\xff\xff\xff\x01", 6),          // ext32 of 4 GiB
      std::string("\x81\xa1x\xdb\x7f\xff\xff\xff", 8),     // a map whose value is a 2 GiB str
  };
}

TEST(Codec, HugeDeclaredLengthsAreMalformed) {
  for (const auto& message : lyingMessages()) {
    const DecodeResult result = decodeBytes(message);
    EXPECT_EQ(result.status, DecodeStatus::kMalformed) << "message of " << message.size() << " bytes";
  }
}

// Runs in a child process (gtest death test) with its address space capped a
// little above what it uses: a decoder that reserved the declared length would
// hit std::bad_alloc there. Exit 0: every message refused without that.
[[noreturn]] void decodeLyingMessagesUnderMemoryCap(const DecodeLimits& limits) {
  constexpr long kHeadroomBytes = 256L << 20;
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t cap = static_cast<rlim_t>(pages * sysconf(_SC_PAGESIZE) + kHeadroomBytes);
  const rlimit limit{cap, cap};
  if (setrlimit(RLIMIT_AS, &limit) != 0) std::_Exit(2);
  for (const auto& message : lyingMessages()) {
    const DecodeResult result = decode("", message.data(), message.size(), limits);
    if (result.status != DecodeStatus::kMalformed) std::_Exit(3);
    if (result.detail.find("bad_alloc") != std::string::npos) std::_Exit(4);
  }
  std::_Exit(0);
}

TEST(CodecDeathTest, HugeDeclaredLengthsAllocateNothing) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: no cap possible";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Default limits: refused on the declared length alone.
  EXPECT_EXIT(decodeLyingMessagesUnderMemoryCap(DecodeLimits{}), ::testing::ExitedWithCode(0), "");
  // Even with the str/bin/ext limits lifted, a length the message cannot hold
  // is refused before any allocation (the array/map limits stay: msgpack
  // reserves element slots up front, which is what those limits are for).
  DecodeLimits lifted;
  lifted.max_str = lifted.max_bin = lifted.max_ext = std::numeric_limits<std::uint32_t>::max();
  EXPECT_EXIT(decodeLyingMessagesUnderMemoryCap(lifted), ::testing::ExitedWithCode(0), "");
  // Control: the cap does catch a real allocation, so the checks above mean something.
  DecodeLimits reckless;
  reckless.max_array = std::numeric_limits<std::uint32_t>::max();
  EXPECT_EXIT(decodeLyingMessagesUnderMemoryCap(reckless), ::testing::ExitedWithCode(4), "");
}

TEST(Codec, OversizedMessageIsTooLargeBeforeParsing) {
  const std::string bytes = encode(sampleHeader(), Body{});
  DecodeLimits small;
  small.max_bytes = bytes.size() - 1;
  const DecodeResult result = decodeBytes(bytes, kTopic, small);
  EXPECT_EQ(result.status, DecodeStatus::kTooLarge);
  EXPECT_FALSE(result.event.has_value());
  small.max_bytes = bytes.size();
  EXPECT_EQ(decodeBytes(bytes, kTopic, small).status, DecodeStatus::kOk);

  // Default limit: 1 MiB. One byte more is refused even if it is not msgpack.
  const DecodeLimits defaults;
  const std::string huge(defaults.max_bytes + 1, '\xc0');
  EXPECT_EQ(decodeBytes(huge).status, DecodeStatus::kTooLarge);
}

TEST(Codec, TopicMustMatchKindAndSource) {
  const std::string bytes = encode(sampleHeader(), Body{});
  for (const char* topic : {"vigil/faces/cam-2", "vigil/plates/cam-1", "vigil/faces/cam-1/x",
                            "other/faces/cam-1", "vigil/faces/"}) {
    const DecodeResult result = decodeBytes(bytes, topic);
    EXPECT_EQ(result.status, DecodeStatus::kTopicMismatch) << topic;
    EXPECT_FALSE(result.event.has_value());
  }
  // No topic (e.g. a file of bodies): nothing to compare.
  EXPECT_EQ(decodeBytes(bytes, "").status, DecodeStatus::kOk);
}

// Ids end up in topics, file names, log lines and SQL rows: only the
// documented charset is accepted, whatever a peer on the bus sends.
TEST(Codec, HostileIdsAreNotAnEvent) {
  const std::vector<std::string> bad_ids = {
      "cam\xff", "caf\xc3\xa9", "..", ".", std::string(5000, 'a'), std::string(65, 'a'),
      "cam\n2024-01-01 [error] forged", "\x1b[31mred", "cam/1", ""};
  for (const std::string key : {"kind", "source", "run"}) {
    for (const auto& id : bad_ids) {
      const auto bytes = pack(replaced(validFields(), key, [&](Packer& p) { packString(p, id); }));
      const DecodeResult result = decodeBytes(bytes, "");
      EXPECT_EQ(result.status, DecodeStatus::kNotAnEvent) << key << " = " << logSafe(id, 40);
      EXPECT_NE(result.detail.find("invalid '" + key + "'"), std::string::npos) << result.detail;
      for (char c : result.detail) ASSERT_GE(static_cast<unsigned char>(c), 0x20) << "detail is one safe line";
    }
  }
  // The longest id is accepted.
  const auto longest = pack(replaced(validFields(), "source", [](Packer& p) { packString(p, std::string(64, 's')); }));
  EXPECT_EQ(decodeBytes(longest, "").status, DecodeStatus::kOk);
}

TEST(Codec, EveryStringIsUtf8AndZoneNamesAreChecked) {
  auto with = [](const std::string& key, std::function<void(Packer&)> value) {
    Fields fields = validFields();
    fields.push_back({key, std::move(value)});
    return decodeBytes(pack(fields));
  };
  // Valid UTF-8 anywhere, zone names with accents: accepted.
  EXPECT_EQ(with("zones", [](Packer& p) { p.pack_map(1); packString(p, "caisse-\xc3\xa9"); p.pack(2); }).status,
            DecodeStatus::kOk);
  EXPECT_EQ(with("detail", [](Packer& p) { packString(p, "ok \xe2\x82\xac\nsecond line"); }).status,
            DecodeStatus::kOk) << "a newline in a text is data (JSON escapes it), not an invalid string";
  // Invalid UTF-8 in a value, nested in objects, or in a key: refused.
  EXPECT_EQ(with("detail", [](Packer& p) { packString(p, "bad \xc0\xaf"); }).status, DecodeStatus::kNotAnEvent);
  const DecodeResult nested = with("objects", [](Packer& p) {
    p.pack_array(1);
    p.pack_map(1);
    packString(p, "text");
    packString(p, std::string(30000, 'A') + "\xff");
  });
  EXPECT_EQ(nested.status, DecodeStatus::kNotAnEvent);
  EXPECT_NE(nested.detail.find("not valid UTF-8"), std::string::npos) << nested.detail;
  EXPECT_LT(nested.detail.size(), 300u) << "the detail quotes a bounded prefix";
  EXPECT_EQ(with("k\xed\xa0\x80", [](Packer& p) { p.pack(1); }).status, DecodeStatus::kNotAnEvent);
  // Zone names: no control characters, at most 64 bytes, strings only.
  for (const std::string& zone : {std::string("door\n[warn] forged"), std::string("\x1b[2J"),
                                 std::string("\xc2\x9b" "31m"), std::string(65, 'z'), std::string()}) {
    const DecodeResult result = with("zones", [&](Packer& p) { p.pack_map(1); packString(p, zone); p.pack(1); });
    EXPECT_EQ(result.status, DecodeStatus::kNotAnEvent) << logSafe(zone);
    EXPECT_NE(result.detail.find("invalid zone name"), std::string::npos) << result.detail;
  }
  EXPECT_EQ(with("zones", [](Packer& p) { p.pack_map(1); p.pack(7); p.pack(1); }).status, DecodeStatus::kNotAnEvent);
}

TEST(Codec, RefusalDetailsAreOneSafeLogLine) {
  const std::string bytes = encode(sampleHeader(), Body{});
  const DecodeResult result = decodeBytes(bytes, "vigil/faces/cam-1\n\x1b[1mFORGED");
  EXPECT_EQ(result.status, DecodeStatus::kTopicMismatch);
  EXPECT_EQ(result.detail.find('\n'), std::string::npos) << result.detail;
  EXPECT_EQ(result.detail.find('\x1b'), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("\\x0a\\x1b[1mFORGED"), std::string::npos) << result.detail;
}

TEST(Codec, LogSafeEscapesControlsAndCutsLongText) {
  EXPECT_EQ(logSafe("plain caf\xc3\xa9"), "plain caf\xc3\xa9");
  EXPECT_EQ(logSafe("a\nb\rc\x1b[0m\x7f"), "a\\x0ab\\x0dc\\x1b[0m\\x7f");
  EXPECT_EQ(logSafe("c1 \xc2\x9b!"), "c1 \\xc2\\x9b!");
  EXPECT_EQ(logSafe("bad \xff\xc3"), "bad \\xff\\xc3");
  EXPECT_EQ(logSafe(std::string(50, 'x'), 10), std::string(10, 'x') + "...(40 more bytes)");
  EXPECT_TRUE(isValidUtf8("caf\xc3\xa9 \xf0\x9f\x93\xb7"));
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));
  EXPECT_TRUE(isValidZoneName("queue-1"));
  EXPECT_FALSE(isValidZoneName("queue\t1"));
}

TEST(Codec, WholeDoublesTravelAsIntegers) {
  // msgpack-c packs a double with no fractional part as an integer, so a
  // float key (score, input_fps) may arrive as either: readers accept both.
  const std::string bytes =
      encode(sampleHeader(), Body().set("input_fps", 25.0).set("analysed_fps", 12.5));
  const DecodeResult result = decodeBytes(bytes);
  ASSERT_EQ(result.status, DecodeStatus::kOk) << result.detail;
  EXPECT_EQ(result.event->find("input_fps")->type, msgpack::type::POSITIVE_INTEGER);
  EXPECT_EQ(result.event->find("analysed_fps")->type, msgpack::type::FLOAT64);
  EXPECT_EQ(result.event->getDouble("input_fps"), 25.0);
  EXPECT_EQ(result.event->getDouble("analysed_fps"), 12.5);
}

TEST(Codec, StatusNamesAreStable) {
  EXPECT_EQ(toString(DecodeStatus::kOk), "ok");
  EXPECT_EQ(toString(DecodeStatus::kTooLarge), "too-large");
  EXPECT_EQ(toString(DecodeStatus::kMalformed), "malformed");
  EXPECT_EQ(toString(DecodeStatus::kNotAnEvent), "not-an-event");
  EXPECT_EQ(toString(DecodeStatus::kNewerVersion), "newer-version");
  EXPECT_EQ(toString(DecodeStatus::kTopicMismatch), "topic-mismatch");
}

TEST(Codec, AccessorsRefuseWhatDoesNotFit) {
  msgpack::object big(std::numeric_limits<std::uint64_t>::max());
  EXPECT_FALSE(asInt(&big).has_value()) << "beyond int64 is not silently wrapped";
  msgpack::object negative(std::int64_t{-3});
  EXPECT_EQ(asInt(&negative), -3);
  msgpack::object real(2.5);
  EXPECT_FALSE(asInt(&real).has_value());
  EXPECT_EQ(asDouble(&real), 2.5);
  EXPECT_FALSE(asString(&real).has_value());
  EXPECT_FALSE(asInt(nullptr).has_value());
  EXPECT_EQ(findKey(real, "x"), nullptr) << "not a map";
}

TEST(Codec, SchemaHelpers) {
  EXPECT_EQ(topicFor("status", "cam-1"), "vigil/status/cam-1");
  EXPECT_TRUE(isValidSourceId("Cam_1.lobby-2"));
  EXPECT_FALSE(isValidSourceId(""));
  EXPECT_FALSE(isValidSourceId("cam/1"));
  EXPECT_FALSE(isValidSourceId("caf\xc3\xa9"));
  EXPECT_FALSE(isValidSourceId(std::string(65, 'a')));
  EXPECT_FALSE(isValidSourceId(".."));
  EXPECT_TRUE(isValidSourceId("cam.1"));
  const std::string run = newRunId();
  EXPECT_EQ(run.size(), 16u);
  EXPECT_EQ(run.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(run, newRunId());
}

// ---- toJson ----

std::string jsonOfBody(const std::function<void(Packer&)>& value) {
  msgpack::sbuffer buffer;
  Packer packer(buffer);
  value(packer);
  msgpack::object_handle handle = msgpack::unpack(buffer.data(), buffer.size());
  return toJson(handle.get());
}

TEST(Json, EscapesStrings) {
  const std::string text = "q\"b\\n\nr\rt\tc\x01\x1f" "d\x7f";
  const std::string out = jsonOfBody([&](Packer& p) { packString(p, text); });
  EXPECT_EQ(out, R"("q\"b\\n\nr\rt\tc\u0001\u001fd)" "\x7f" R"(")");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), text) << "round-trips through a JSON parser";
}

TEST(Json, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(jsonOfBody([](Packer& p) { packString(p, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7"); }),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7\"");
  // Invalid UTF-8 (stray continuation, truncated sequence, overlong, surrogate,
  // beyond U+10FFFF) becomes U+FFFD per byte: the output stays valid JSON.
  const std::vector<std::string> invalid = {"a\x80z", "a\xc3", "\xc0\xaf", "\xed\xa0\x80",
                                            "\xf4\x90\x80\x80", "\xff"};
  for (const auto& text : invalid) {
    const std::string out = jsonOfBody([&](Packer& p) { packString(p, text); });
    EXPECT_TRUE(nlohmann::json::accept(out)) << out;
    EXPECT_NE(out.find("\\ufffd"), std::string::npos) << out;
  }
  EXPECT_EQ(jsonOfBody([](Packer& p) { packString(p, "a\x80z"); }), "\"a\\ufffdz\"");
}

TEST(Json, RendersEveryType) {
  const std::string out = jsonOfBody([](Packer& p) {
    p.pack_array(12);
    p.pack_nil();
    p.pack_true();
    p.pack_false();
    p.pack(std::numeric_limits<std::uint64_t>::max());
    p.pack(std::numeric_limits<std::int64_t>::min());
    p.pack(0.875);
    p.pack(25.0);
    p.pack(std::numeric_limits<double>::quiet_NaN());
    p.pack_bin(3);
    p.pack_bin_body("\x00\xab\xff", 3);
    p.pack_map(1);
    p.pack(7);  // non-string key
    p.pack_array(0);
    p.pack_map(0);
    p.pack(0.1f);
  });
  const auto parsed = nlohmann::json::parse(out);
  ASSERT_EQ(parsed.size(), 12u) << out;
  EXPECT_TRUE(parsed[0].is_null());
  EXPECT_EQ(parsed[1], true);
  EXPECT_EQ(parsed[2], false);
  EXPECT_EQ(parsed[3].get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parsed[4].get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(parsed[5].get<double>(), 0.875);
  EXPECT_EQ(parsed[6].get<double>(), 25.0);
  EXPECT_TRUE(parsed[7].is_null()) << "NaN has no JSON form";
  EXPECT_EQ(parsed[8], "00abff") << "binary as hex";
  EXPECT_EQ(parsed[9]["7"], nlohmann::json::array());
  EXPECT_EQ(parsed[10], nlohmann::json::object());
  EXPECT_FLOAT_EQ(parsed[11].get<float>(), 0.1f) << "float32 reads back as the same float";
}

}  // namespace
}  // namespace vigil::events
