#include "golden_events.hpp"

#include "vigil/events/codec.hpp"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace vigil::events::testing {

namespace {

// Fixed header values: a 1280x720 camera "cam-1", publisher run 5f3c9a0d2e7b4618.
constexpr const char* kSource = "cam-1";
constexpr const char* kRun = "5f3c9a0d2e7b4618";
constexpr std::int64_t kCaptureNs = 1700000000123456789;  // 2023-11-14T22:13:20.123456789Z
constexpr std::int64_t kPtsNs = 10000000000;              // 10 s into the stream
constexpr std::uint64_t kFrame = 250;                      // 10 s at 25 fps
constexpr std::int64_t kWidth = 1280;
constexpr std::int64_t kHeight = 720;
constexpr std::size_t kHexBytesPerLine = 32;

using Packer = msgpack::packer<msgpack::sbuffer>;

Header header(std::string_view kind, std::uint64_t seq, bool with_pts) {
  Header h;
  h.kind = std::string(kind);
  h.source = kSource;
  h.run = kRun;
  h.seq = seq;
  h.ts_ns = kCaptureNs;
  if (with_pts) h.pts_ns = kPtsNs;
  h.frame = kFrame;
  h.width = kWidth;
  h.height = kHeight;
  return h;
}

void packString(Packer& packer, std::string_view text) {
  packer.pack_str(static_cast<std::uint32_t>(text.size()));
  packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

struct Box {
  unsigned x, y, w, h;
};

// An object as eventpublish packs a `vigil-object` ROI: box, then the params
// fields in the order the analyser set them (score and track_id first).
void packObjectStart(Packer& packer, std::uint32_t extra_pairs, Box box, double score,
                     std::int64_t track_id) {
  packer.pack_map(3 + extra_pairs);
  packString(packer, "box");
  packer.pack_array(4);
  packer.pack(box.x);
  packer.pack(box.y);
  packer.pack(box.w);
  packer.pack(box.h);
  packString(packer, "score");
  packer.pack(score);
  packString(packer, "track_id");
  packer.pack(track_id);
}

GoldenEvent make(std::string name, const Header& h, const Body& body) {
  return GoldenEvent{std::move(name), topicFor(h.kind, h.source), encode(h, body)};
}

GoldenEvent statusEvent() {
  // A lifecycle change: no PTS (status events are not tied to a buffer).
  Body body;
  body.set("state", "playing").set("detail", "frames flowing").set("heartbeat", false);
  return make("status", header(kind::kStatus, 2, false), body);
}

GoldenEvent heartbeatEvent() {
  Body body;
  body.set("state", "playing").set("detail", "heartbeat").set("heartbeat", true);
  body.set("input_fps", 25.0)
      .set("analysed_fps", 12.5)
      .set("dropped_frames", std::uint64_t{3})
      .set("analysed_frames", std::uint64_t{247})
      .set("events_dropped", std::uint64_t{0});
  return make("heartbeat", header(kind::kStatus, 3, false), body);
}

GoldenEvent facesEvent() {
  Body body;
  body.set("count", 2);
  Packer& zones = body.key("zones");
  zones.pack_map(2);
  packString(zones, "entrance");
  zones.pack(1);
  packString(zones, "queue-1");
  zones.pack(0);
  Packer& objects = body.key("objects");
  objects.pack_array(2);
  packObjectStart(objects, 0, {412, 168, 96, 120}, 0.875, 17);
  packObjectStart(objects, 0, {900, 200, 88, 110}, 0.75, 18);
  return make("faces", header(kind::kFaces, 42, true), body);
}

GoldenEvent platesEvent() {
  // Plate text is never published: box, score and track only.
  Body body;
  body.set("count", 1);
  Packer& objects = body.key("objects");
  objects.pack_array(1);
  packObjectStart(objects, 0, {520, 430, 180, 44}, 0.9375, 3);
  return make("plates", header(kind::kPlates, 5, true), body);
}

GoldenEvent codesEvent() {
  Body body;
  body.set("count", 2);
  Packer& objects = body.key("objects");
  objects.pack_array(2);
  // A GS1-128 label that just appeared, with its element strings.
  packObjectStart(objects, 5, {300, 310, 220, 90}, 1.0, 4);
  packString(objects, "format");
  packString(objects, "code128");
  packString(objects, "text");
  packString(objects, "(01)09501101530003(17)201231");
  packString(objects, "gs1");
  objects.pack_map(2);
  packString(objects, "01");
  packString(objects, "09501101530003");
  packString(objects, "17");
  packString(objects, "2020-12-31");
  packString(objects, "first_seen");
  objects.pack(kCaptureNs);
  packString(objects, "state");
  packString(objects, "appeared");
  // A QR code that left the view; its text needs JSON escaping.
  packObjectStart(objects, 4, {40, 52, 128, 128}, 1.0, 2);
  packString(objects, "format");
  packString(objects, "qr");
  packString(objects, "text");
  packString(objects, "https://example.com/?q=\"a\\b\"\tcaf\xc3\xa9");
  packString(objects, "first_seen");
  objects.pack(std::int64_t{1699999995123456789});
  packString(objects, "state");
  packString(objects, "left");
  return make("codes", header(kind::kCodes, 12, true), body);
}

}  // namespace

std::vector<GoldenEvent> goldenEvents() {
  return {statusEvent(), heartbeatEvent(), facesEvent(), platesEvent(), codesEvent()};
}

std::string toHexLines(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0xf]);
    if ((i + 1) % kHexBytesPerLine == 0 || i + 1 == bytes.size()) text.push_back('\n');
  }
  return text;
}

std::string fromHex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  int high = -1;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    const int value = digit(c);
    if (value < 0) throw std::invalid_argument(std::string("not a hex digit: '") + c + "'");
    if (high < 0) {
      high = value;
    } else {
      bytes.push_back(static_cast<char>(high << 4 | value));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("odd number of hex digits");
  return bytes;
}

std::string goldenDir() { return VIGIL_EVENTS_GOLDEN_DIR; }

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

void writeFile(const std::string& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace vigil::events::testing
