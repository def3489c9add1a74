// The kind-specific keys of Vigil events (schema v1), spelled once for the
// elements that write them and the subscribers that read them. The keys every
// event carries (`v`, `kind`, `source`, ...) are in schema.hpp; docs/EVENTS.md
// section 5 says what each key holds. Adding a key is not a schema change;
// renaming one is, and tests/events/golden pins the spelling on the wire.
//
// C strings rather than string_views: the elements hand them straight to
// GStreamer's C API as structure field names; readers convert where they look.
#pragma once

namespace vigil::events::key {

// Any event about objects found in a frame: faces, plates, codes, and the
// events eventpublish makes from regions of interest no analyser summarised.
namespace detections {
inline constexpr const char* kCount = "count";      // objects in the frame
inline constexpr const char* kObjects = "objects";  // one map per object, keys in `object`
}  // namespace detections

// Keys of each map in `objects`, whatever the kind.
namespace object {
inline constexpr const char* kBox = "box";  // [x, y, w, h] in pixels of width x height
inline constexpr const char* kScore = "score";
inline constexpr const char* kTrackId = "track_id";
}  // namespace object

// `faces`, as facecount publishes them.
namespace faces {
using detections::kCount;
using detections::kObjects;
inline constexpr const char* kZones = "zones";  // map: zone name -> faces in it
}  // namespace faces

// `plates`, as plateblur publishes them.
namespace plates {
using detections::kCount;
using detections::kObjects;
}  // namespace plates

// `codes`, as codereader publishes them.
namespace codes {
using detections::kCount;
using detections::kObjects;
// Keys of a code's map in `objects`, beside box, score and track_id.
inline constexpr const char* kFormat = "format";
inline constexpr const char* kText = "text";
inline constexpr const char* kRaw = "raw";
inline constexpr const char* kGs1 = "gs1";            // map: application identifier -> value
inline constexpr const char* kGs1Errors = "errors";   // inside `gs1`: what failed validation
inline constexpr const char* kFirstSeen = "first_seen";
inline constexpr const char* kState = "state";
// Values of `state`. `visible` marks a code read again; it stays on the buffer
// for downstream elements and is never published.
inline constexpr const char* kStateAppeared = "appeared";
inline constexpr const char* kStateVisible = "visible";
inline constexpr const char* kStateLeft = "left";
}  // namespace codes

// `status`, as eventpublish publishes it. Values of `state` are in schema.hpp.
namespace status {
inline constexpr const char* kState = "state";
inline constexpr const char* kDetail = "detail";
inline constexpr const char* kHeartbeat = "heartbeat";
// Heartbeats only (`heartbeat` true).
inline constexpr const char* kInputFps = "input_fps";
inline constexpr const char* kAnalysedFps = "analysed_fps";
inline constexpr const char* kDroppedFrames = "dropped_frames";
inline constexpr const char* kAnalysedFrames = "analysed_frames";
inline constexpr const char* kEventsDropped = "events_dropped";
}  // namespace status

}  // namespace vigil::events::key
