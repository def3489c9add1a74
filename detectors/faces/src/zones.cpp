#include "vigil/faces/zones.hpp"

#include <opencv2/imgproc.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>

namespace vigil::faces {

namespace {

constexpr std::size_t kMinPolygonPoints = 3;

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

[[noreturn]] void fail(std::string_view zone, const std::string& problem) {
  throw std::invalid_argument("bad zones: zone '" + std::string(zone) + "': " + problem);
}

float coordinate(std::string_view zone, std::string_view text) {
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || errno != 0 || !std::isfinite(value)) {
    fail(zone, "'" + copy + "' is not a number");
  }
  if (value < 0.0 || value > 1.0) {
    fail(zone, "coordinate " + copy + " is outside [0,1] (zones use normalised coordinates)");
  }
  return static_cast<float>(value);
}

Zone parseZone(std::string_view entry) {
  const auto equals = entry.find('=');
  if (equals == std::string_view::npos) {
    fail(entry, "expected name=x,y x,y x,y ...");
  }
  Zone zone;
  zone.name = std::string(trimmed(entry.substr(0, equals)));
  if (zone.name.empty()) fail(entry, "the zone name is empty");
  if (zone.name.find_first_of(" \t,") != std::string::npos) {
    fail(zone.name, "a zone name may not contain spaces or commas");
  }
  std::istringstream points{std::string(entry.substr(equals + 1))};
  std::string point;
  while (points >> point) {
    const auto comma = point.find(',');
    if (comma == std::string::npos || point.find(',', comma + 1) != std::string::npos) {
      fail(zone.name, "point '" + point + "' is not x,y");
    }
    const std::string_view view(point);
    zone.polygon.emplace_back(coordinate(zone.name, view.substr(0, comma)),
                              coordinate(zone.name, view.substr(comma + 1)));
  }
  if (zone.polygon.size() < kMinPolygonPoints) {
    fail(zone.name, "a polygon needs at least 3 points, got " + std::to_string(zone.polygon.size()));
  }
  return zone;
}

}  // namespace

bool Zone::contains(cv::Point2f point) const {
  return cv::pointPolygonTest(polygon, point, false) >= 0.0;
}

std::vector<Zone> parseZones(std::string_view text) {
  std::vector<Zone> zones;
  std::set<std::string> names;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(';', start), text.size());
    const std::string_view entry = trimmed(text.substr(start, end - start));
    // A trailing ';' is tolerated; an empty entry between two zones is not.
    if (!entry.empty()) {
      Zone zone = parseZone(entry);
      if (!names.insert(zone.name).second) fail(zone.name, "the name is used twice");
      zones.push_back(std::move(zone));
    } else if (end < text.size() && !trimmed(text.substr(end + 1)).empty()) {
      throw std::invalid_argument("bad zones: empty entry between ';' separators");
    }
    start = end + 1;
  }
  return zones;
}

std::string formatZones(const std::vector<Zone>& zones) {
  std::ostringstream out;
  out.precision(6);
  for (std::size_t z = 0; z < zones.size(); ++z) {
    if (z > 0) out << ';';
    out << zones[z].name << '=';
    for (std::size_t p = 0; p < zones[z].polygon.size(); ++p) {
      if (p > 0) out << ' ';
      out << zones[z].polygon[p].x << ',' << zones[z].polygon[p].y;
    }
  }
  return out.str();
}

}  // namespace vigil::faces
