#include "vigil/subscribers/event_fields.hpp"

#include "vigil/events/keys.hpp"

namespace vigil::subscribers {

namespace key = events::key;

namespace {

std::string stringOr(const msgpack::object* object) {
  auto value = events::asString(object);
  return value ? std::move(*value) : std::string();
}

}  // namespace

std::optional<std::int64_t> eventCount(const events::Event& event) { return event.getInt(key::detections::kCount); }

std::vector<std::pair<std::string, std::int64_t>> zoneCounts(const events::Event& event) {
  std::vector<std::pair<std::string, std::int64_t>> zones;
  const msgpack::object* map = event.find(key::faces::kZones);
  if (!map || map->type != msgpack::type::MAP) return zones;
  for (std::uint32_t i = 0; i < map->via.map.size; ++i) {
    const auto& pair = map->via.map.ptr[i];
    auto name = events::asString(&pair.key);
    auto count = events::asInt(&pair.val);
    if (name && count) zones.emplace_back(std::move(*name), *count);
  }
  return zones;
}

std::optional<std::int64_t> zoneCount(const events::Event& event, std::string_view zone) {
  const msgpack::object* map = event.find(key::faces::kZones);
  if (!map) return std::nullopt;
  return events::asInt(events::findKey(*map, zone));
}

std::vector<CodeRead> codeReads(const events::Event& event) {
  std::vector<CodeRead> reads;
  const msgpack::object* objects = event.find(key::detections::kObjects);
  if (!objects || objects->type != msgpack::type::ARRAY) return reads;
  for (std::uint32_t i = 0; i < objects->via.array.size; ++i) {
    const msgpack::object& object = objects->via.array.ptr[i];
    if (object.type != msgpack::type::MAP) continue;
    CodeRead read;
    read.text = stringOr(events::findKey(object, key::codes::kText));
    read.format = stringOr(events::findKey(object, key::codes::kFormat));
    read.state = stringOr(events::findKey(object, key::codes::kState));
    read.track_id = events::asInt(events::findKey(object, key::object::kTrackId));
    read.first_seen = events::asInt(events::findKey(object, key::codes::kFirstSeen));
    reads.push_back(std::move(read));
  }
  return reads;
}

StatusFields statusFields(const events::Event& event) {
  StatusFields fields;
  fields.state = stringOr(event.find(key::status::kState));
  fields.detail = stringOr(event.find(key::status::kDetail));
  fields.input_fps = event.getDouble(key::status::kInputFps);
  fields.analysed_fps = event.getDouble(key::status::kAnalysedFps);
  fields.dropped_frames = event.getInt(key::status::kDroppedFrames);
  return fields;
}

}  // namespace vigil::subscribers
