#include "vigil/subscribers/event_fields.hpp"

namespace vigil::subscribers {

namespace {

std::string stringOr(const msgpack::object* object) {
  auto value = events::asString(object);
  return value ? std::move(*value) : std::string();
}

}  // namespace

std::optional<std::int64_t> eventCount(const events::Event& event) { return event.getInt("count"); }

std::vector<std::pair<std::string, std::int64_t>> zoneCounts(const events::Event& event) {
  std::vector<std::pair<std::string, std::int64_t>> zones;
  const msgpack::object* map = event.find("zones");
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
  const msgpack::object* map = event.find("zones");
  if (!map) return std::nullopt;
  return events::asInt(events::findKey(*map, zone));
}

std::vector<CodeRead> codeReads(const events::Event& event) {
  std::vector<CodeRead> reads;
  const msgpack::object* objects = event.find("objects");
  if (!objects || objects->type != msgpack::type::ARRAY) return reads;
  for (std::uint32_t i = 0; i < objects->via.array.size; ++i) {
    const msgpack::object& object = objects->via.array.ptr[i];
    if (object.type != msgpack::type::MAP) continue;
    CodeRead read;
    read.text = stringOr(events::findKey(object, "text"));
    read.format = stringOr(events::findKey(object, "format"));
    read.state = stringOr(events::findKey(object, "state"));
    read.track_id = events::asInt(events::findKey(object, "track_id"));
    read.first_seen = events::asInt(events::findKey(object, "first_seen"));
    reads.push_back(std::move(read));
  }
  return reads;
}

StatusFields statusFields(const events::Event& event) {
  StatusFields fields;
  fields.state = stringOr(event.find("state"));
  fields.detail = stringOr(event.find("detail"));
  fields.input_fps = event.getDouble("input_fps");
  fields.analysed_fps = event.getDouble("analysed_fps");
  fields.dropped_frames = event.getInt("dropped_frames");
  return fields;
}

}  // namespace vigil::subscribers
