// Named polygons in normalised frame coordinates ([0,1] x [0,1]) and the text
// form the runner passes to `facecount`:
//   "queue-1=0.1,0.2 0.5,0.2 0.5,0.9 0.1,0.9;queue-2=0.6,0.2 0.9,0.2 0.9,0.9"
// Zones are separated by ';', the name by '=', points by whitespace, and the
// two coordinates of a point by ','.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace vigil::faces {

struct Zone {
  std::string name;
  std::vector<cv::Point2f> polygon;  // normalised, at least 3 points

  // True when `point` (normalised) lies inside the polygon or on its edge.
  bool contains(cv::Point2f point) const;
};

// Parses the text form above; an empty or blank string gives no zones. Throws
// std::invalid_argument saying what is wrong and where (empty or duplicate
// name, fewer than three points, a coordinate that is not a number or lies
// outside [0,1]).
std::vector<Zone> parseZones(std::string_view text);

// The text form of `zones` (parseZones(formatZones(z)) == z).
std::string formatZones(const std::vector<Zone>& zones);

}  // namespace vigil::faces
