#include "still_analyser.hpp"

#include "elements.hpp"
#include "snapshot.hpp"
#include "vigil/analytics/registry.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <spdlog/spdlog.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace vigil::pipeline {

namespace {

constexpr int kJpegQuality = 90;
constexpr int kWebpQuality = 90;
constexpr int kPngCompression = 3;  // zlib level: fast, still much smaller than raw
// A still has no real-time budget: plateblur waits for its detection (its
// maximum) instead of redacting the whole frame because a busy machine was late.
constexpr const char* kStillDetectTimeoutMs = "10000";
// How long one image may take through the pipeline before it is an error.
constexpr GstClockTime kPullTimeout = 60 * GST_SECOND;

// The element's error on the pipeline's bus, if any, as one line.
std::string busError(GstElement* pipeline) {
  gst::BusPtr bus(gst_element_get_bus(pipeline));
  gst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
  if (!message) return "";
  GError* raw = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(message.get(), &raw, &debug);
  gst::ErrorPtr error(raw);
  gst::CharPtr owned_debug(debug);
  std::string text = GST_OBJECT_NAME(GST_MESSAGE_SRC(message.get()));
  text += ": ";
  text += error ? error->message : "unknown error";
  return text;
}

nlohmann::json jsonOf(const GValue* value, int depth);

nlohmann::json jsonOf(const GstStructure* structure, int depth, std::initializer_list<const char*> skip = {}) {
  nlohmann::json object = nlohmann::json::object();
  const int n = gst_structure_n_fields(structure);
  for (int i = 0; i < n; ++i) {
    const char* name = gst_structure_nth_field_name(structure, i);
    if (std::any_of(skip.begin(), skip.end(), [&](const char* s) { return std::strcmp(s, name) == 0; })) continue;
    object[name] = jsonOf(gst_structure_get_value(structure, name), depth + 1);
  }
  return object;
}

// The same conversion eventpublish makes to msgpack, to JSON.
nlohmann::json jsonOf(const GValue* value, int depth) {
  constexpr int kMaxDepth = 8;
  const GType type = G_VALUE_TYPE(value);
  if (depth > kMaxDepth) return nullptr;
  if (type == G_TYPE_INT) return g_value_get_int(value);
  if (type == G_TYPE_UINT) return g_value_get_uint(value);
  if (type == G_TYPE_INT64) return static_cast<std::int64_t>(g_value_get_int64(value));
  if (type == G_TYPE_UINT64) return static_cast<std::uint64_t>(g_value_get_uint64(value));
  if (type == G_TYPE_DOUBLE) return g_value_get_double(value);
  if (type == G_TYPE_FLOAT) return static_cast<double>(g_value_get_float(value));
  if (type == G_TYPE_BOOLEAN) return g_value_get_boolean(value) != FALSE;
  if (type == G_TYPE_STRING) {
    const char* text = g_value_get_string(value);
    return text ? nlohmann::json(text) : nlohmann::json(nullptr);
  }
  if (type == GST_TYPE_STRUCTURE) {
    const GstStructure* nested = gst_value_get_structure(value);
    return nested ? jsonOf(nested, depth) : nlohmann::json(nullptr);
  }
  if (type == GST_TYPE_ARRAY || type == GST_TYPE_LIST) {
    const bool is_array = type == GST_TYPE_ARRAY;
    const guint n = is_array ? gst_value_array_get_size(value) : gst_value_list_get_size(value);
    nlohmann::json array = nlohmann::json::array();
    for (guint i = 0; i < n; ++i) {
      array.push_back(
          jsonOf(is_array ? gst_value_array_get_value(value, i) : gst_value_list_get_value(value, i), depth + 1));
    }
    return array;
  }
  gst::CharPtr text(gst_value_serialize(value));
  return text ? nlohmann::json(text.get()) : nlohmann::json(nullptr);
}

// `objects` of one ROI type, as eventpublish publishes them: box from the
// meta, then the `vigil-object` params but `publish`.
nlohmann::json objectsOf(GstBuffer* buffer, GQuark roi_type) {
  namespace key = events::key;
  nlohmann::json objects = nlohmann::json::array();
  for (GstVideoRegionOfInterestMeta* roi : gst::regionsOfInterest(buffer)) {
    if (roi->roi_type != roi_type) continue;
    const GstStructure* params = gst::objectParams(roi);
    gboolean published = TRUE;
    if (params && gst_structure_get_boolean(params, gst::kFieldPublish, &published) && !published) continue;
    nlohmann::json object = nlohmann::json::object();
    object[key::object::kBox] = {roi->x, roi->y, roi->w, roi->h};
    object[gst::kFieldScore] = 1.0;
    object[gst::kFieldTrackId] = static_cast<std::int64_t>(roi->id);
    if (params) object.update(jsonOf(params, 0, {gst::kFieldPublish, key::object::kBox}));
    objects.push_back(std::move(object));
  }
  return objects;
}

// I420 (any strides) or anything GStreamer converts: packed BGR.
cv::Mat redactedOf(GstSample* sample) { return snapshotBgr(sample); }

}  // namespace

std::optional<StillFormat> stillFormatNamed(const std::string& name) {
  if (name == "jpeg" || name == "jpg") return StillFormat::kJpeg;
  if (name == "webp") return StillFormat::kWebp;
  if (name == "png") return StillFormat::kPng;
  return std::nullopt;
}

const char* stillExtension(StillFormat format) {
  switch (format) {
    case StillFormat::kJpeg: return "jpg";
    case StillFormat::kWebp: return "webp";
    case StillFormat::kPng: return "png";
  }
  return "jpg";
}

const char* stillMimeType(StillFormat format) {
  switch (format) {
    case StillFormat::kJpeg: return "image/jpeg";
    case StillFormat::kWebp: return "image/webp";
    case StillFormat::kPng: return "image/png";
  }
  return "image/jpeg";
}

std::vector<unsigned char> encodeStill(const cv::Mat& bgr, StillFormat format) {
  std::vector<int> parameters;
  switch (format) {
    case StillFormat::kJpeg: parameters = {cv::IMWRITE_JPEG_QUALITY, kJpegQuality}; break;
    case StillFormat::kWebp: parameters = {cv::IMWRITE_WEBP_QUALITY, kWebpQuality}; break;
    case StillFormat::kPng: parameters = {cv::IMWRITE_PNG_COMPRESSION, kPngCompression}; break;
  }
  std::vector<unsigned char> bytes;
  if (!cv::imencode(std::string(".") + stillExtension(format), bgr, bytes, parameters)) {
    throw std::runtime_error(std::string("cannot encode ") + stillExtension(format));
  }
  return bytes;
}

std::vector<AnalyticConfig> stillAnalyticsNamed(const std::string& list) {
  std::vector<AnalyticConfig> chosen;
  std::stringstream stream(list);
  std::string name;
  while (std::getline(stream, name, ',')) {
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (name.empty()) continue;
    const analytics::Analytic* analytic = analytics::byName(name);
    if (!analytic) {
      throw std::invalid_argument("unknown analytic '" + name + "' (expected " + analytics::namesText() + ")");
    }
    if (std::any_of(chosen.begin(), chosen.end(), [&](const auto& a) { return a.name == name; })) {
      throw std::invalid_argument("analytic '" + name + "' is listed twice");
    }
    AnalyticConfig config;
    config.name = analytic->name;
    config.element = analytic->element;
    chosen.push_back(std::move(config));
  }
  if (chosen.empty()) throw std::invalid_argument("no analytic chosen (expected " + analytics::namesText() + ")");
  // Redactors after readers, as in a source: a code under a plate must be
  // read before the plate is blurred.
  std::stable_sort(chosen.begin(), chosen.end(), [](const AnalyticConfig& a, const AnalyticConfig& b) {
    auto redacts = [](const AnalyticConfig& c) {
      const analytics::Analytic* row = analytics::byName(c.name);
      return row && row->pixels == analytics::Pixels::kRedact;
    };
    return !redacts(a) && redacts(b);
  });
  return chosen;
}

// One started pipeline, for one image.
struct StillPipeline {
  gst::ElementPtr pipeline;
  gst::ElementPtr source;  // appsrc
  gst::ElementPtr sink;    // appsink

  ~StillPipeline() {
    if (pipeline) gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  }
};

struct StillAnalyser::Impl {
  StillOptions options;
  std::vector<AnalyticConfig> elements;  // what the pipeline holds, in order

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::unique_ptr<StillPipeline>> ready;
  std::string warm_error;  // the last start failure, answered to waiting callers
  bool stopping = false;
  std::thread warmer;

  std::unique_ptr<StillPipeline> build() const {
    const auto began = std::chrono::steady_clock::now();
    auto still = std::make_unique<StillPipeline>();
    still->pipeline.reset(GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new("still"))));
    GstBin* bin = GST_BIN(still->pipeline.get());
    still->source = makeElement("appsrc", "src");
    g_object_set(still->source.get(), "format", GST_FORMAT_TIME, "max-buffers", guint64(1), nullptr);
    gst::ElementPtr convert = makeElement("videoconvert");
    gst::ElementPtr filter = makeElement("capsfilter");
    // The analytics pipeline of a source carries I420 (source_session.cpp):
    // the elements see a still exactly as they see a camera's frame.
    gst::CapsPtr i420(gst_caps_from_string("video/x-raw,format=I420"));
    g_object_set(filter.get(), "caps", i420.get(), nullptr);
    still->sink = makeElement("appsink", "sink");
    g_object_set(still->sink.get(), "sync", FALSE, "max-buffers", 1u, "emit-signals", FALSE, nullptr);
    std::vector<GstElement*> chain{still->source.get(), convert.get(), filter.get()};
    std::vector<gst::ElementPtr> analytics;
    for (const AnalyticConfig& analytic : elements) {
      gst::ElementPtr element = makeElement(analytic.element.c_str());
      for (const auto& [property, value] : analytic.properties) {
        try {
          setPropertyFromText(element.get(), property, value);
        } catch (const std::exception& error) {
          throw ConfigError(analytic.name + ": " + error.what());
        }
      }
      chain.push_back(element.get());
      analytics.push_back(std::move(element));
    }
    chain.push_back(still->sink.get());
    for (GstElement* element : chain) gst_bin_add(bin, GST_ELEMENT(gst_object_ref(element)));
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
      if (!gst_element_link(chain[i], chain[i + 1])) {
        throw std::runtime_error(std::string("cannot link ") + GST_OBJECT_NAME(chain[i]) + " to " +
                                 GST_OBJECT_NAME(chain[i + 1]));
      }
    }
    // Starting loads the models (each element's start()): done here, ahead
    // of the image. With no caps yet, nothing flows.
    if (gst_element_set_state(still->pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      const std::string error = busError(still->pipeline.get());
      throw std::runtime_error("the still-image pipeline does not start: " +
                               (error.empty() ? std::string("unknown error") : error));
    }
    spdlog::debug("still-image pipeline started in {} ms",
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count());
    return still;
  }

  void warm() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (ready.size() >= static_cast<std::size_t>(std::max(1, options.spares))) {
        changed.wait(lock);
        continue;
      }
      lock.unlock();
      std::unique_ptr<StillPipeline> still;
      std::string error;
      try {
        still = build();
      } catch (const std::exception& e) {
        error = e.what();
      }
      lock.lock();
      if (still) {
        ready.push_back(std::move(still));
        warm_error.clear();
      } else {
        // Reported to the callers waiting now; tried again on the next take.
        warm_error = error;
        changed.notify_all();
        changed.wait(lock);
        continue;
      }
      changed.notify_all();
    }
  }

  std::unique_ptr<StillPipeline> take() {
    std::unique_lock<std::mutex> lock(mutex);
    warm_error.clear();
    changed.notify_all();  // a warmer stopped by an error tries again
    changed.wait(lock, [&] { return stopping || !ready.empty() || !warm_error.empty(); });
    if (!ready.empty()) {
      std::unique_ptr<StillPipeline> still = std::move(ready.front());
      ready.pop_front();
      changed.notify_all();
      return still;
    }
    if (stopping) throw std::runtime_error("the still-image analyser is stopping");
    throw std::runtime_error(warm_error);
  }

  StillResult run(const cv::Mat& bgr, bool redacted) {
    const auto began = std::chrono::steady_clock::now();
    std::unique_ptr<StillPipeline> still = take();
    const auto taken = std::chrono::steady_clock::now();
    const cv::Mat packed = bgr.isContinuous() ? bgr : bgr.clone();
    gst::CapsPtr caps(gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", "width", G_TYPE_INT,
                                          packed.cols, "height", G_TYPE_INT, packed.rows, "framerate",
                                          GST_TYPE_FRACTION, 0, 1, nullptr));
    gst_app_src_set_caps(GST_APP_SRC(still->source.get()), caps.get());
    const gsize bytes = packed.total() * packed.elemSize();
    GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
    gst_buffer_fill(buffer, 0, packed.data, bytes);
    GST_BUFFER_PTS(buffer) = 0;
    GST_BUFFER_OFFSET(buffer) = 0;
    if (gst_app_src_push_buffer(GST_APP_SRC(still->source.get()), buffer) != GST_FLOW_OK) {
      throw std::runtime_error("the still-image pipeline refused the image");
    }
    gst_app_src_end_of_stream(GST_APP_SRC(still->source.get()));
    gst::SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(still->sink.get()), kPullTimeout));
    if (!sample) {
      const std::string error = busError(still->pipeline.get());
      throw std::runtime_error("the image was not analysed: " + (error.empty() ? std::string("timed out") : error));
    }

    StillResult result;
    result.report = nlohmann::json::object();
    result.report["width"] = packed.cols;
    result.report["height"] = packed.rows;
    GstBuffer* analysed = gst_sample_get_buffer(sample.get());
    for (GstStructure* summary : gst::analyses(analysed)) {
      const std::string kind = gst::analysisKind(summary);
      const analytics::Analytic* row = analytics::byEventKind(kind);
      const bool wanted = row && std::any_of(options.analytics.begin(), options.analytics.end(),
                                             [&](const AnalyticConfig& a) { return a.name == row->name; });
      if (!wanted) continue;
      nlohmann::json body = jsonOf(summary, 0, {gst::kFieldRoiType, gst::kFieldPublish, gst::kFieldKind});
      if (const char* roi_type = gst_structure_get_string(summary, gst::kFieldRoiType)) {
        body[events::key::detections::kObjects] = objectsOf(analysed, g_quark_from_string(roi_type));
      }
      result.report[kind] = std::move(body);
    }
    spdlog::debug("still image {}x{}: waited {} ms for a pipeline, analysed in {} ms", packed.cols, packed.rows,
                  std::chrono::duration_cast<std::chrono::milliseconds>(taken - began).count(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - taken).count());
    if (redacted) {
      if (!options.anonymize) throw std::logic_error("redacted pixels asked of an analyser without anonymize");
      result.redacted = redactedOf(sample.get());
    }
    return result;
  }
};

StillAnalyser::StillAnalyser(StillOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->elements = impl_->options.analytics;
  auto redactor = std::find_if(impl_->elements.begin(), impl_->elements.end(), [](const AnalyticConfig& a) {
    const analytics::Analytic* row = analytics::byName(a.name);
    return row && row->pixels == analytics::Pixels::kRedact;
  });
  if (impl_->options.anonymize && redactor == impl_->elements.end()) {
    AnalyticConfig plates;
    plates.name = analytics::kPlates.name;
    plates.element = analytics::kPlates.element;
    impl_->elements.push_back(std::move(plates));
    redactor = std::prev(impl_->elements.end());
  }
  if (redactor != impl_->elements.end()) {
    redactor->properties.insert(redactor->properties.begin(), {"detect-timeout", kStillDetectTimeoutMs});
    for (const auto& property : impl_->options.redaction_properties) redactor->properties.push_back(property);
  }
  // The first pipeline here: a bad property or a missing model is an error
  // of the command, not of the first image.
  impl_->ready.push_back(impl_->build());
  impl_->warmer = std::thread([impl = impl_.get()] { impl->warm(); });
}

StillAnalyser::~StillAnalyser() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  if (impl_->warmer.joinable()) impl_->warmer.join();
}

StillResult StillAnalyser::analyse(std::string_view encoded, bool redacted) const {
  return impl_->run(decodeImage(encoded, impl_->options.max_pixels), redacted);
}

StillResult StillAnalyser::analyseDecoded(const cv::Mat& bgr, bool redacted) const {
  if (bgr.empty() || bgr.type() != CV_8UC3) throw ImageError(400, "not a BGR image");
  const std::int64_t pixels = std::int64_t(bgr.cols) * bgr.rows;
  if (pixels > impl_->options.max_pixels) {
    throw ImageError(413, std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows) + " is over the limit of " +
                              std::to_string(impl_->options.max_pixels) + " pixels");
  }
  return impl_->run(bgr, redacted);
}

const StillOptions& StillAnalyser::options() const { return impl_->options; }

}  // namespace vigil::pipeline
