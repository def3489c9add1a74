// Golden vectors: the committed bytes of one event per kind (tests/events/golden,
// shown in docs/EVENTS.md) are exactly what the encoder writes today, and they
// decode to the documented fields. Then a deterministic fuzz loop mutates them.
//
// After a deliberate schema change, regenerate the files with
//   VIGIL_UPDATE_GOLDEN=1 events_codec_test --gtest_filter='Golden.*'
// and update docs/EVENTS.md to match.
#include "golden_events.hpp"

#include "vigil/events/codec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

namespace vigil::events {
namespace {

using testing::GoldenEvent;
using testing::goldenEvents;

std::string trimNewline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string goldenPath(const GoldenEvent& golden, const char* extension) {
  return testing::goldenDir() + "/" + golden.name + extension;
}

bool updateRequested() {
  const char* update = std::getenv("VIGIL_UPDATE_GOLDEN");
  return update && std::string(update) == "1";
}

DecodeResult decodeGolden(const GoldenEvent& golden) {
  return decode(golden.topic, golden.body.data(), golden.body.size());
}

TEST(Golden, EncoderWritesTheCommittedBytes) {
  for (const GoldenEvent& golden : goldenEvents()) {
    const DecodeResult result = decodeGolden(golden);
    ASSERT_EQ(result.status, DecodeStatus::kOk) << golden.name << ": " << result.detail;
    const std::string json = toJson(result.event->map());
    if (updateRequested()) {
      testing::writeFile(goldenPath(golden, ".topic"), golden.topic + "\n");
      testing::writeFile(goldenPath(golden, ".hex"), testing::toHexLines(golden.body));
      testing::writeFile(goldenPath(golden, ".json"), json + "\n");
      std::printf("updated %s.{topic,hex,json}\n", goldenPath(golden, "").c_str());
    }
    EXPECT_EQ(trimNewline(testing::readFile(goldenPath(golden, ".topic"))), golden.topic) << golden.name;
    const std::string committed = testing::fromHex(testing::readFile(goldenPath(golden, ".hex")));
    EXPECT_EQ(testing::toHexLines(committed), testing::toHexLines(golden.body))
        << golden.name << ": the encoder's bytes differ from the committed vector";
    EXPECT_EQ(trimNewline(testing::readFile(goldenPath(golden, ".json"))), json) << golden.name;
  }
}

// Decodes the committed file (not the encoder's output) and returns its event.
Event decodeCommitted(const std::string& name) {
  const std::string topic = trimNewline(testing::readFile(testing::goldenDir() + "/" + name + ".topic"));
  const std::string body = testing::fromHex(testing::readFile(testing::goldenDir() + "/" + name + ".hex"));
  DecodeResult result = decode(topic, body.data(), body.size());
  if (result.status != DecodeStatus::kOk) {
    ADD_FAILURE() << name << ": " << result.detail;
    return Event{};
  }
  return std::move(*result.event);
}

void expectCommonHeader(const Event& event, const char* kind, std::uint64_t seq, bool has_pts) {
  EXPECT_EQ(event.version, 1);
  EXPECT_EQ(event.header.kind, kind);
  EXPECT_EQ(event.header.source, "cam-1");
  EXPECT_EQ(event.topic, std::string("vigil/") + kind + "/cam-1");
  EXPECT_EQ(event.header.run, "5f3c9a0d2e7b4618");
  EXPECT_EQ(event.header.seq, seq);
  EXPECT_EQ(event.header.ts_ns, 1700000000123456789);
  EXPECT_EQ(event.header.pts_ns.has_value(), has_pts);
  if (has_pts) {
    EXPECT_EQ(*event.header.pts_ns, 10000000000);
  }
  EXPECT_EQ(event.header.frame, 250u);
  EXPECT_EQ(event.header.width, 1280);
  EXPECT_EQ(event.header.height, 720);
}

std::vector<std::int64_t> box(const msgpack::object& object) {
  std::vector<std::int64_t> values;
  const msgpack::object* array = findKey(object, "box");
  if (!array || array->type != msgpack::type::ARRAY) return values;
  for (std::uint32_t i = 0; i < array->via.array.size; ++i) {
    values.push_back(asInt(&array->via.array.ptr[i]).value_or(-1));
  }
  return values;
}

const msgpack::object& objectAt(const Event& event, std::uint32_t index) {
  static const msgpack::object kNil;
  const msgpack::object* objects = event.find("objects");
  if (!objects || objects->type != msgpack::type::ARRAY || index >= objects->via.array.size) {
    ADD_FAILURE() << "no objects[" << index << "]";
    return kNil;
  }
  return objects->via.array.ptr[index];
}

TEST(Golden, StatusVectorsDecodeToTheDocumentedFields) {
  const Event status = decodeCommitted("status");
  expectCommonHeader(status, "status", 2, false);
  EXPECT_EQ(status.getString("state"), "playing");
  EXPECT_EQ(status.getString("detail"), "frames flowing");
  ASSERT_NE(status.find("heartbeat"), nullptr);
  EXPECT_EQ(status.find("heartbeat")->type, msgpack::type::BOOLEAN);
  EXPECT_FALSE(status.find("heartbeat")->via.boolean);
  EXPECT_EQ(status.find("input_fps"), nullptr) << "rates only in heartbeats";

  const Event heartbeat = decodeCommitted("heartbeat");
  expectCommonHeader(heartbeat, "status", 3, false);
  EXPECT_EQ(heartbeat.getString("state"), "playing");
  EXPECT_EQ(heartbeat.getString("detail"), "heartbeat");
  ASSERT_NE(heartbeat.find("heartbeat"), nullptr);
  EXPECT_TRUE(heartbeat.find("heartbeat")->via.boolean);
  EXPECT_EQ(heartbeat.getDouble("input_fps"), 25.0);
  EXPECT_EQ(heartbeat.getDouble("analysed_fps"), 12.5);
  EXPECT_EQ(heartbeat.getInt("dropped_frames"), 3);
  EXPECT_EQ(heartbeat.getInt("analysed_frames"), 247);
  EXPECT_EQ(heartbeat.getInt("events_dropped"), 0);
}

TEST(Golden, FacesVectorDecodesToTheDocumentedFields) {
  const Event faces = decodeCommitted("faces");
  expectCommonHeader(faces, "faces", 42, true);
  EXPECT_EQ(faces.getInt("count"), 2);
  const msgpack::object* zones = faces.find("zones");
  ASSERT_NE(zones, nullptr);
  EXPECT_EQ(asInt(findKey(*zones, "entrance")), 1);
  EXPECT_EQ(asInt(findKey(*zones, "queue-1")), 0);
  EXPECT_EQ(box(objectAt(faces, 0)), (std::vector<std::int64_t>{412, 168, 96, 120}));
  EXPECT_EQ(asDouble(findKey(objectAt(faces, 0), "score")), 0.875);
  EXPECT_EQ(asInt(findKey(objectAt(faces, 0), "track_id")), 17);
  EXPECT_EQ(box(objectAt(faces, 1)), (std::vector<std::int64_t>{900, 200, 88, 110}));
  EXPECT_EQ(asInt(findKey(objectAt(faces, 1), "track_id")), 18);
}

TEST(Golden, PlatesVectorCarriesNoPlateText) {
  const Event plates = decodeCommitted("plates");
  expectCommonHeader(plates, "plates", 5, true);
  EXPECT_EQ(plates.getInt("count"), 1);
  const msgpack::object& plate = objectAt(plates, 0);
  EXPECT_EQ(box(plate), (std::vector<std::int64_t>{520, 430, 180, 44}));
  EXPECT_EQ(asDouble(findKey(plate, "score")), 0.9375);
  EXPECT_EQ(asInt(findKey(plate, "track_id")), 3);
  EXPECT_EQ(findKey(plate, "text"), nullptr);
  EXPECT_EQ(plate.via.map.size, 3u) << "box, score, track_id and nothing else";
}

TEST(Golden, CodesVectorDecodesToTheDocumentedFields) {
  const Event codes = decodeCommitted("codes");
  expectCommonHeader(codes, "codes", 12, true);
  EXPECT_EQ(codes.getInt("count"), 2);
  const msgpack::object& label = objectAt(codes, 0);
  EXPECT_EQ(asString(findKey(label, "format")), "code128");
  EXPECT_EQ(asString(findKey(label, "text")), "(01)09501101530003(17)201231");
  const msgpack::object* gs1 = findKey(label, "gs1");
  ASSERT_NE(gs1, nullptr);
  EXPECT_EQ(asString(findKey(*gs1, "01")), "09501101530003");
  EXPECT_EQ(asString(findKey(*gs1, "17")), "2020-12-31");
  EXPECT_EQ(asInt(findKey(label, "first_seen")), 1700000000123456789);
  EXPECT_EQ(asString(findKey(label, "state")), "appeared");
  const msgpack::object& qr = objectAt(codes, 1);
  EXPECT_EQ(asString(findKey(qr, "format")), "qr");
  EXPECT_EQ(asString(findKey(qr, "text")), "https://example.com/?q=\"a\\b\"\tcaf\xc3\xa9");
  EXPECT_EQ(findKey(qr, "gs1"), nullptr) << "gs1 only for GS1 data";
  EXPECT_EQ(asString(findKey(qr, "state")), "left");
}

// ---- Fuzz: mutated golden vectors never crash the decoder and are never
// accepted with a header that disagrees with an independent reading.

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  // mt19937_64 output is fully specified by the standard, so the sequence
  // (unlike std::uniform_int_distribution's) is the same everywhere.
  std::size_t below(std::size_t bound) { return bound ? static_cast<std::size_t>(rng_() % bound) : 0; }

  void mutate(std::string& bytes, const std::vector<GoldenEvent>& corpus) {
    // Bytes that change a msgpack type or length in a single step.
    static constexpr std::array<unsigned char, 32> kInteresting = {
        0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xc3, 0xc4, 0xc6, 0xc7, 0xc9, 0xca,
        0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    constexpr std::size_t kMutationKinds = 9;
    constexpr std::size_t kLengthBytes = 4;
    const std::size_t at = below(bytes.size());
    switch (below(kMutationKinds)) {
      case 0:
        if (!bytes.empty()) bytes[at] = static_cast<char>(bytes[at] ^ (1u << below(8)));
        break;
      case 1:
        if (!bytes.empty()) bytes[at] = static_cast<char>(below(256));
        break;
      case 2:
        if (!bytes.empty()) bytes[at] = static_cast<char>(kInteresting[below(kInteresting.size())]);
        break;
      case 3: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(below(256))); break;
      case 4:
        if (!bytes.empty()) bytes.erase(at, 1);
        break;
      case 5: bytes.resize(at); break;
      case 6: {
        const std::size_t length = below(bytes.size() - at + 1);
        bytes.insert(below(bytes.size() + 1), bytes.substr(at, length));
        break;
      }
      case 7:
        for (std::size_t i = at; i < std::min(bytes.size(), at + kLengthBytes); ++i) bytes[i] = '\xff';
        break;
      default: {
        const std::string& other = corpus[below(corpus.size())].body;
        bytes = bytes.substr(0, at) + other.substr(below(other.size()));
        break;
      }
    }
  }

 private:
  std::mt19937_64 rng_;
};

// How a header string reads in JSON: itself, with invalid UTF-8 as U+FFFD.
std::string asJsonText(const std::string& text) {
  msgpack::object object;
  object.type = msgpack::type::STR;
  object.via.str.ptr = text.data();
  object.via.str.size = static_cast<std::uint32_t>(text.size());
  return nlohmann::json::parse(toJson(object)).get<std::string>();
}

// What an accepted event must satisfy, checked against nlohmann's reading of
// toJson's output (which must therefore be valid JSON, UTF-8 included).
void checkAccepted(const DecodeResult& result, const std::string& topic, const std::string& bytes) {
  ASSERT_TRUE(result.event.has_value());
  const Event& event = *result.event;
  const Header& header = event.header;
  EXPECT_EQ(event.version, 1);
  if (!topic.empty()) {
    EXPECT_EQ(topicFor(header.kind, header.source), topic);
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(toJson(event.map()));
  } catch (const std::exception& error) {
    FAIL() << "toJson gave invalid JSON (" << error.what() << ") for " << testing::toHexLines(bytes);
  }
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json["v"], 1);
  EXPECT_EQ(json["kind"], asJsonText(header.kind));
  EXPECT_EQ(json["source"], asJsonText(header.source));
  EXPECT_EQ(json["run"], asJsonText(header.run));
  EXPECT_EQ(json["seq"], header.seq);
  EXPECT_EQ(json["ts"], header.ts_ns);
  EXPECT_EQ(json["frame"], header.frame);
  EXPECT_EQ(json["width"], header.width);
  EXPECT_EQ(json["height"], header.height);
  if (header.pts_ns) {
    EXPECT_EQ(json["pts"], *header.pts_ns);
  } else {
    EXPECT_TRUE(!json.contains("pts") || json["pts"].is_null());
  }
  // What was accepted can be written again and reads back the same.
  const std::string again = encode(header, Body{});
  const DecodeResult reread = decode(topic, again.data(), again.size());
  ASSERT_EQ(reread.status, DecodeStatus::kOk) << reread.detail;
  EXPECT_EQ(reread.event->header.seq, header.seq);
  EXPECT_EQ(reread.event->header.run, header.run);
}

TEST(Fuzz, MutatedGoldenVectorsNeverCrashOrMisread) {
  constexpr std::uint64_t kSeed = 20240601;
  constexpr int kIterations = 100000;
  constexpr std::size_t kMaxMutations = 4;
  constexpr int kEmptyTopicEvery = 4;  // also decode without a topic to check
  const std::vector<GoldenEvent> corpus = goldenEvents();
  Mutator mutator(kSeed);
  std::map<DecodeStatus, int> outcomes;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    const GoldenEvent& golden = corpus[mutator.below(corpus.size())];
    std::string bytes = golden.body;
    const std::size_t mutations = 1 + mutator.below(kMaxMutations);
    for (std::size_t i = 0; i < mutations; ++i) mutator.mutate(bytes, corpus);
    const std::string topic = iteration % kEmptyTopicEvery == 0 ? std::string() : golden.topic;
    const DecodeResult result = decode(topic, bytes.data(), bytes.size());
    ++outcomes[result.status];
    if (result.status == DecodeStatus::kOk) {
      checkAccepted(result, topic, bytes);
    } else {
      EXPECT_FALSE(result.event.has_value());
      EXPECT_FALSE(result.detail.empty()) << "every refusal says why";
    }
    if (::testing::Test::HasFailure()) {
      FAIL() << "iteration " << iteration << " (" << toString(result.status) << ", " << result.detail
             << "), input:\n"
             << testing::toHexLines(bytes);
    }
  }
  // The loop explores: mutations that keep the event, break it, and retarget it.
  EXPECT_GT(outcomes[DecodeStatus::kOk], 0);
  EXPECT_GT(outcomes[DecodeStatus::kMalformed], 0);
  EXPECT_GT(outcomes[DecodeStatus::kNotAnEvent], 0);
  EXPECT_GT(outcomes[DecodeStatus::kTopicMismatch], 0);
  for (const auto& [status, count] : outcomes) {
    std::printf("fuzz: %-15s %d\n", std::string(toString(status)).c_str(), count);
  }
}

}  // namespace
}  // namespace vigil::events
