// How Vigil's elements talk to each other: buffer metadata.
//
// Objects: one GstVideoRegionOfInterestMeta per detection, in buffer pixels,
// with the analytic's roi_type (`face`, `license-plate`, `barcode`: the
// table in vigil/analytics/registry.hpp) and one param structure
// named `vigil-object`. Its fields are the event object's keys as published
// (`score`, `track_id`, `format`, `text`, `gs1`, `first_seen`, ...), except
// `publish` (boolean, default true): false keeps the object on the buffer for
// downstream elements (e.g. the redactor) but out of the event.
//
// Analysis: one custom meta `VigilAnalysisMeta` per analyser and frame. Fields:
// `kind` (the event kind: `faces`, `plates`, `codes`),
// `roi_type` (which objects belong to it), `publish` (emit an event for this
// frame: the analyser's emit policy), and the event's kind-specific keys
// (`count`, `zones`, ...), published as they are.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <cstdint>
#include <string_view>

namespace vigil::gst {

inline constexpr const char* kObjectParams = "vigil-object";
inline constexpr const char* kAnalysisMeta = "VigilAnalysisMeta";

inline constexpr const char* kFieldScore = "score";
inline constexpr const char* kFieldTrackId = "track_id";
inline constexpr const char* kFieldPublish = "publish";
inline constexpr const char* kFieldRoiType = "roi_type";
inline constexpr const char* kFieldKind = "kind";

// Registers VigilAnalysisMeta; idempotent, thread-safe. The plugin calls it on
// load; the runner and tests may call it before the plugin is loaded.
void registerAnalysisMeta();

// Adds a detection. The returned structure (owned by the meta) can take more
// fields, e.g. `text` or `format`. Box is clamped to the frame by the caller.
GstStructure* addObject(GstBuffer* buffer, const char* roi_type, int x, int y, int width,
                        int height, double score, std::int64_t track_id);

// The `vigil-object` params of a ROI meta, or nullptr (e.g. stock facedetect).
const GstStructure* objectParams(GstVideoRegionOfInterestMeta* roi);

// Adds the per-frame analysis summary; the returned structure (owned by the
// meta) has `roi_type` and `publish` set and takes the kind-specific fields.
GstStructure* addAnalysis(GstBuffer* buffer, const char* kind, const char* roi_type, bool publish);

// The event kind of an analysis summary ("" if unset).
const char* analysisKind(const GstStructure* analysis);

// Iterates one kind of meta on a buffer; `Next` returns the one after the
// gst_buffer_iterate_meta() cursor `*state`, or null at the end.
template <typename T, T* (*Next)(GstBuffer*, gpointer*)>
class MetaRange {
 public:
  explicit MetaRange(GstBuffer* buffer) : buffer_(buffer) {}
  class iterator {
   public:
    iterator(GstBuffer* buffer, bool end) : buffer_(buffer) {
      if (!end) current_ = Next(buffer_, &state_);
    }
    T* operator*() const { return current_; }
    iterator& operator++() {
      current_ = Next(buffer_, &state_);
      return *this;
    }
    bool operator!=(const iterator& other) const { return current_ != other.current_; }

   private:
    GstBuffer* buffer_;
    gpointer state_ = nullptr;
    T* current_ = nullptr;
  };
  iterator begin() const { return iterator(buffer_, false); }
  iterator end() const { return iterator(buffer_, true); }

 private:
  GstBuffer* buffer_;
};

// The next analysis summary, and the next ROI meta (every roi type), after
// the cursor `*state`; null at the end.
GstStructure* nextAnalysis(GstBuffer* buffer, gpointer* state);
GstVideoRegionOfInterestMeta* nextRegionOfInterest(GstBuffer* buffer, gpointer* state);

// `for (GstStructure* summary : analyses(buffer))`
using AnalysisRange = MetaRange<GstStructure, nextAnalysis>;
inline AnalysisRange analyses(GstBuffer* buffer) { return AnalysisRange(buffer); }
// `for (GstVideoRegionOfInterestMeta* roi : regionsOfInterest(buffer))`
using RoiRange = MetaRange<GstVideoRegionOfInterestMeta, nextRegionOfInterest>;
inline RoiRange regionsOfInterest(GstBuffer* buffer) { return RoiRange(buffer); }

// Wall-clock capture time (ns since the epoch) carried as a
// GstReferenceTimestampMeta with caps `timestamp/x-unix`, or -1.
std::int64_t captureTimeNs(GstBuffer* buffer);
void setCaptureTimeNs(GstBuffer* buffer, std::int64_t unix_ns);
// The capture time, after stamping the wall clock now on a buffer that has
// none (a plain gst-launch line: no runner stamped it). The first analyser to
// see the frame stamps it, so every time field downstream (`first_seen`, the
// event's `ts`) is epoch nanoseconds of the same instant. Needs a writable buffer.
std::int64_t stampCaptureTimeNs(GstBuffer* buffer);

}  // namespace vigil::gst
