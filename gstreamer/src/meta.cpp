#include "vigil/gst/meta.hpp"

#include <chrono>
#include <mutex>

namespace vigil::gst {

namespace {

// The summary holds no coordinates, so every transform (copy, scale, convert)
// keeps it unchanged.
gboolean copyAnalysis(GstBuffer* destination, GstCustomMeta* meta, GstBuffer*, GQuark, gpointer,
                      gpointer) {
  GstCustomMeta* copy = gst_buffer_add_custom_meta(destination, kAnalysisMeta);
  if (!copy) return FALSE;
  GstStructure* target = gst_custom_meta_get_structure(copy);
  const GstStructure* source = gst_custom_meta_get_structure(meta);
  const int fields = gst_structure_n_fields(source);
  for (int i = 0; i < fields; ++i) {
    const gchar* name = gst_structure_nth_field_name(source, i);
    gst_structure_set_value(target, name, gst_structure_get_value(source, name));
  }
  return TRUE;
}

GstCaps* unixTimestampCaps() {
  static GstStaticCaps caps = GST_STATIC_CAPS("timestamp/x-unix");
  return gst_static_caps_get(&caps);
}

}  // namespace

void registerAnalysisMeta() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The plugin and the application each link this library, so each has its
    // own once-flag: the registry is the one source of truth.
    if (gst_meta_get_info(kAnalysisMeta)) return;
    static const gchar* tags[] = {nullptr};
    gst_meta_register_custom(kAnalysisMeta, tags, copyAnalysis, nullptr, nullptr);
  });
}

GstStructure* addObject(GstBuffer* buffer, const char* roi_type, int x, int y, int width,
                        int height, double score, std::int64_t track_id) {
  GstVideoRegionOfInterestMeta* roi = gst_buffer_add_video_region_of_interest_meta(
      buffer, roi_type, static_cast<guint>(std::max(0, x)), static_cast<guint>(std::max(0, y)),
      static_cast<guint>(std::max(0, width)), static_cast<guint>(std::max(0, height)));
  if (track_id >= 0) roi->id = static_cast<gint>(track_id & 0x7fffffff);
  GstStructure* params = gst_structure_new(kObjectParams, kFieldScore, G_TYPE_DOUBLE, score,
                                           kFieldTrackId, G_TYPE_INT64,
                                           static_cast<gint64>(track_id), nullptr);
  gst_video_region_of_interest_meta_add_param(roi, params);  // takes ownership
  return params;
}

const GstStructure* objectParams(GstVideoRegionOfInterestMeta* roi) {
  return gst_video_region_of_interest_meta_get_param(roi, kObjectParams);
}

GstStructure* addAnalysis(GstBuffer* buffer, const char* kind, const char* roi_type, bool publish) {
  registerAnalysisMeta();
  GstCustomMeta* meta = gst_buffer_add_custom_meta(buffer, kAnalysisMeta);
  GstStructure* structure = gst_custom_meta_get_structure(meta);
  // The structure keeps the meta's name: gst_custom_meta_has_name() matches on it.
  gst_structure_set(structure, kFieldKind, G_TYPE_STRING, kind, kFieldRoiType, G_TYPE_STRING, roi_type, kFieldPublish,
                    G_TYPE_BOOLEAN, publish ? TRUE : FALSE, nullptr);
  return structure;
}

GstStructure* nextAnalysis(GstBuffer* buffer, gpointer* state) {
  while (GstMeta* meta = gst_buffer_iterate_meta(buffer, state)) {
    if (gst_meta_info_is_custom(meta->info) &&
        gst_custom_meta_has_name(reinterpret_cast<GstCustomMeta*>(meta), kAnalysisMeta)) {
      return gst_custom_meta_get_structure(reinterpret_cast<GstCustomMeta*>(meta));
    }
  }
  return nullptr;
}

const char* analysisKind(const GstStructure* analysis) {
  const char* kind = gst_structure_get_string(analysis, kFieldKind);
  return kind ? kind : "";
}

GstVideoRegionOfInterestMeta* nextRegionOfInterest(GstBuffer* buffer, gpointer* state) {
  GstMeta* meta = gst_buffer_iterate_meta_filtered(buffer, state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE);
  return reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
}

std::int64_t captureTimeNs(GstBuffer* buffer) {
  GstCaps* caps = unixTimestampCaps();
  GstReferenceTimestampMeta* meta = gst_buffer_get_reference_timestamp_meta(buffer, caps);
  gst_caps_unref(caps);
  if (!meta || !GST_CLOCK_TIME_IS_VALID(meta->timestamp)) return -1;
  return static_cast<std::int64_t>(meta->timestamp);
}

void setCaptureTimeNs(GstBuffer* buffer, std::int64_t unix_ns) {
  GstCaps* caps = unixTimestampCaps();
  gst_buffer_add_reference_timestamp_meta(buffer, caps, static_cast<GstClockTime>(unix_ns),
                                          GST_CLOCK_TIME_NONE);
  gst_caps_unref(caps);
}

std::int64_t stampCaptureTimeNs(GstBuffer* buffer) {
  const std::int64_t captured = captureTimeNs(buffer);
  if (captured >= 0) return captured;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  setCaptureTimeNs(buffer, now);
  return now;
}

}  // namespace vigil::gst
