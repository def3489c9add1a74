// The analytics Vigil runs, in one table. Each analytic has one name per layer
// it crosses, and this is the only place that pairs them:
//
//   config name  element      event kind  ROI type        pixels
//   faces        facecount    faces       face            read
//   plates       plateblur    plates      license-plate   redacted
//   codes        codereader   codes       barcode         read
//
// The config loader turns a config name into its element, the runner asks
// which analytics redact, eventpublish names events for ROIs no summary
// claimed, and the notifier accepts the kinds that carry a `count`. Elements
// read their own row for the kind and ROI type they attach.
//
// Plain C++ without GStreamer, so the subscribers can link it too.
#pragma once

#include "vigil/events/schema.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace vigil::analytics {

// What an analytic's element does to the frames it analyses.
enum class Pixels {
  kRead,    // attaches metadata only; frames pass through unchanged
  kRedact,  // changes pixels: every output downstream of it carries the redacted video
};

struct Analytic {
  // C strings: GStreamer's C API and the YAML reader take them as they are.
  const char* name;        // in configs: `analytics: [faces]`, `faces: {interval: 10}`
  const char* element;     // GStreamer factory name of the element that implements it
  const char* event_kind;  // `kind` of its events: topics are vigil/<kind>/<source>
  const char* roi_type;    // roi_type of the GstVideoRegionOfInterestMeta it attaches
  Pixels pixels;
};

inline constexpr Analytic kFaces{"faces", "facecount", events::kind::kFaces.data(), "face", Pixels::kRead};
inline constexpr Analytic kPlates{"plates", "plateblur", events::kind::kPlates.data(), "license-plate",
                                  Pixels::kRedact};
inline constexpr Analytic kCodes{"codes", "codereader", events::kind::kCodes.data(), "barcode", Pixels::kRead};

// Every analytic: the three above, then any added since, in that order.
std::vector<Analytic> all();

// Adds an analytic defined outside this table (an out-of-tree element, a
// test's toy analytic) for the rest of the process, like an element joins
// GStreamer's registry. Its strings must outlive the process (literals).
// Adding the same row again does nothing; throws std::invalid_argument when
// any of its names is already another analytic's.
void add(const Analytic& analytic);

// Lookups by each of the names; nullptr when none matches.
const Analytic* byName(std::string_view name);
const Analytic* byElement(std::string_view element);
const Analytic* byEventKind(std::string_view kind);
const Analytic* byRoiType(std::string_view roi_type);

// "faces, plates or codes": the config names, for error messages.
std::string namesText();
// "faces, plates or codes": the event kinds, for error messages.
std::string eventKindsText();

}  // namespace vigil::analytics
