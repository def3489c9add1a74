#include "vigil/groundtruth/face_run.hpp"

#include "vigil/analytics/registry.hpp"
#include "vigil/gst/message.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace vigil::groundtruth {

namespace {

constexpr GstClockTime kSampleTimeout = 30 * GST_SECOND;

double processCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string busError(GstElement* pipeline) {
  gst::BusPtr bus(gst_element_get_bus(pipeline));
  gst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
  if (!message) return "";
  return gst::errorText(message.get()).full();
}

FaceFrameResult collect(GstBuffer* buffer) {
  FaceFrameResult result;
  for (GstVideoRegionOfInterestMeta* roi : gst::regionsOfInterest(buffer)) {
    if (std::strcmp(g_quark_to_string(roi->roi_type), vigil::analytics::kFaces.roi_type) != 0) continue;
    result.boxes.emplace_back(static_cast<float>(roi->x), static_cast<float>(roi->y),
                              static_cast<float>(roi->w), static_cast<float>(roi->h));
  }
  for (GstStructure* analysis : gst::analyses(buffer)) {
    if (std::strcmp(gst::analysisKind(analysis), "faces") != 0) continue;
    gst_structure_get_int(analysis, "count", &result.count);
    gboolean publish = FALSE;
    gst_structure_get_boolean(analysis, gst::kFieldPublish, &publish);
    result.published = publish;
  }
  return result;
}

// The detector passes of the pipeline's facecount, or -1 if it has none.
std::int64_t facecountScans(GstElement* pipeline) {
  gst::IteratorPtr elements(gst_bin_iterate_recurse(GST_BIN(pipeline)));
  std::int64_t scans = -1;
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(elements.get(), &item) == GST_ITERATOR_OK) {
    auto* element = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* factory = gst_element_get_factory(element);
    if (factory && std::strcmp(GST_OBJECT_NAME(factory), "facecount") == 0) {
      GstStructure* raw = nullptr;
      g_object_get(element, "stats", &raw, nullptr);
      gst::StructurePtr stats(raw);
      guint64 passes = 0;
      if (stats && gst_structure_get_uint64(stats.get(), "scans", &passes)) scans = static_cast<std::int64_t>(passes);
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  return scans;
}

}  // namespace

std::vector<FaceFrameResult> runFaceAnalysis(const std::string& clip_path, const std::string& analysis,
                                             FaceRunStats* stats) {
  gst::registerAnalysisMeta();
  const std::string description = "filesrc location=\"" + clip_path +
                                  "\" ! matroskademux ! h264parse ! avdec_h264 ! queue ! " +
                                  (analysis.empty() ? std::string("identity") : analysis) +
                                  " ! appsink name=frames sync=false";
  GError* raw_error = nullptr;
  gst::ElementPtr pipeline(gst_parse_launch(description.c_str(), &raw_error));
  gst::ErrorPtr parse_error(raw_error);
  if (!pipeline || parse_error) {
    throw std::runtime_error("cannot build \"" + description + "\": " +
                             (parse_error ? parse_error->message : "unknown"));
  }
  gst::ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "frames"));
  const auto wall_start = std::chrono::steady_clock::now();
  const double cpu_start = processCpuSeconds();
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    const std::string error = busError(pipeline.get());
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    throw std::runtime_error("pipeline did not start: " + error);
  }
  std::vector<FaceFrameResult> results;
  auto first_out = wall_start;
  double cpu_first_out = cpu_start;
  while (true) {
    gst::SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink.get()), kSampleTimeout));
    if (!sample) break;
    if (results.empty()) {
      first_out = std::chrono::steady_clock::now();
      cpu_first_out = processCpuSeconds();
    }
    results.push_back(collect(gst_sample_get_buffer(sample.get())));
  }
  const double cpu_end = processCpuSeconds();
  const auto wall_end = std::chrono::steady_clock::now();
  const std::string error = busError(pipeline.get());
  const bool reached_end = gst_app_sink_is_eos(GST_APP_SINK(sink.get()));
  const std::int64_t scans = facecountScans(pipeline.get());
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  if (!error.empty()) throw std::runtime_error("pipeline failed: " + error);
  if (!reached_end) throw std::runtime_error("pipeline stalled before the end of " + clip_path);
  if (stats) {
    stats->frames = static_cast<std::int64_t>(results.size());
    stats->startup_seconds = std::chrono::duration<double>(first_out - wall_start).count();
    stats->wall_seconds = std::chrono::duration<double>(wall_end - first_out).count();
    stats->cpu_seconds = cpu_end - cpu_first_out;
    stats->scans = scans;
  }
  return results;
}

}  // namespace vigil::groundtruth
