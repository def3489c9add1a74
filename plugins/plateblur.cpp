/**
 * SECTION:element-plateblur
 *
 * Finds licence plates and redacts them in place, on every frame: the one
 * Vigil element that changes pixels. Detection runs every `interval` frames
 * on a worker thread (vigil::plates, backend by name); between detections the
 * plates are tracked, carried forward and padded.
 *
 * It fails closed: when a detection is late (longer than `detect-timeout`)
 * or the detector throws, the frame is still redacted — the last boxes grown
 * with every frame of delay, or the whole frame with fail-mode=whole-frame.
 * Until the first detection has come back, whole frames are redacted.
 *
 * Per frame it attaches one ROI meta `license-plate` per covered plate
 * (score, track_id; never any text) and an analysis summary `plates` with
 * `count`, published when the set of tracked plates changes. With
 * `redact-roi-types=face` it also redacts ROI metas already on the buffer
 * (e.g. from facecount upstream).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=in.mkv ! decodebin ! plateblur mode=pixelate interval=3 ! x264enc ! matroskamux ! filesink location=out.mkv
 * ]|
 */
#include "plateblur.hpp"

#include "vigil/analytics/registry.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/guard.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/plates/coverage.hpp"
#include "vigil/plates/detector.hpp"
#include "vigil/plates/redaction.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(vigil_plate_blur_debug);
#define GST_CAT_DEFAULT vigil_plate_blur_debug

namespace {

// This element's row in the analytics table: its factory name, event kind and ROI type.
using vigil::analytics::kPlates;

enum class BlurMode { Blur, Pixelate, Fill, Image };
enum class FailModeProp { GrowBoxes, WholeFrame };

constexpr BlurMode kDefaultMode = BlurMode::Blur;
constexpr FailModeProp kDefaultFailMode = FailModeProp::GrowBoxes;
// Every frame by default: detection costs ~2 ms at 720p and a plate that
// appears between detections leaks (7.5 % of plate-frames at 3, bench/plates).
constexpr guint kDefaultInterval = 1;
constexpr guint kMaxInterval = 300;
constexpr double kDefaultPadding = 0.15;
constexpr double kMaxPadding = 2.0;
constexpr double kDefaultScoreThreshold = -1.0;  // the backend's own default
constexpr guint kDefaultDetectTimeoutMs = 100;
constexpr guint kMaxDetectTimeoutMs = 10000;
constexpr guint kDefaultFillColour = 0xff000000;  // ARGB, opaque black
constexpr int kMinPaddingPixels = 4;

enum {
  PROP_0,
  PROP_MODE,
  PROP_IMAGE_LOCATION,
  PROP_FILL_COLOR,
  PROP_BACKEND,
  PROP_MODEL_LOCATION,
  PROP_SCORE_THRESHOLD,
  PROP_PADDING,
  PROP_INTERVAL,
  PROP_FAIL_MODE,
  PROP_DETECT_TIMEOUT,
  PROP_REDACT_ROI_TYPES,
};

struct Settings {
  BlurMode mode = kDefaultMode;
  std::string image_location;
  guint fill_colour = kDefaultFillColour;
  std::string backend = vigil::plates::kDefaultBackend;
  std::string model_location;
  double score_threshold = kDefaultScoreThreshold;
  double padding = kDefaultPadding;
  guint interval = kDefaultInterval;
  FailModeProp fail_mode = kDefaultFailMode;
  guint detect_timeout_ms = kDefaultDetectTimeoutMs;
  std::string redact_roi_types;
};

// How the mapped frame is laid out; chosen once in set_info.
enum class Layout { Yuv420, Bgr, Rgb, Grey };

struct State {
  std::unique_ptr<vigil::plates::PlateCoverage> coverage;
  cv::Mat image_bgr;  // Image mode picture, loaded in start()
  Layout layout = Layout::Yuv420;
  std::int64_t frame_index = 0;
  std::set<std::int64_t> published_tracks;
  bool first_frame = true;
  bool warned_no_image = false;
};

struct Private {
  std::mutex settings_mutex;
  Settings settings;
  State state;  // streaming thread (and start/stop) only
};

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

cv::Scalar bgrFromArgb(guint argb) {
  return cv::Scalar(argb & 0xff, (argb >> 8) & 0xff, (argb >> 16) & 0xff, (argb >> 24) & 0xff);
}

}  // namespace

struct _VigilPlateBlur {
  GstVideoFilter parent;
  Private* priv;
};

G_DEFINE_TYPE(VigilPlateBlur, vigil_plate_blur, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(plateblur, kPlates.element, GST_RANK_NONE, VIGIL_TYPE_PLATE_BLUR)

GType vigil_plate_blur_mode_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(BlurMode::Blur), "Gaussian blur, strength scaled to the plate", "blur"},
        {static_cast<gint>(BlurMode::Pixelate), "Pixelate in blocks of a third of the plate height", "pixelate"},
        {static_cast<gint>(BlurMode::Fill), "Solid fill with fill-color", "fill"},
        {static_cast<gint>(BlurMode::Image), "The image-location picture scaled onto the plate", "image"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilPlateBlurMode", values));
  }
  return type;
}

GType vigil_plate_blur_fail_mode_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(FailModeProp::GrowBoxes),
         "Late or failed detection: redact the last boxes, grown every frame", "grow-boxes"},
        {static_cast<gint>(FailModeProp::WholeFrame),
         "Late or failed detection: redact the whole frame", "whole-frame"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilPlateBlurFailMode", values));
  }
  return type;
}

#define VIDEO_CAPS GST_VIDEO_CAPS_MAKE(VIGIL_ANALYSIS_FORMATS)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(VIDEO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(VIDEO_CAPS));

static void vigil_plate_blur_init(VigilPlateBlur* self) { self->priv = new Private; }

static void vigil_plate_blur_finalize(GObject* object) {
  delete VIGIL_PLATE_BLUR(object)->priv;
  G_OBJECT_CLASS(vigil_plate_blur_parent_class)->finalize(object);
}

static void vigil_plate_blur_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  auto* self = VIGIL_PLATE_BLUR(object);
  std::lock_guard<std::mutex> lock(self->priv->settings_mutex);
  Settings& s = self->priv->settings;
  auto string_of = [value] {
    const gchar* text = g_value_get_string(value);
    return std::string(text ? text : "");
  };
  switch (id) {
    case PROP_MODE: s.mode = static_cast<BlurMode>(g_value_get_enum(value)); break;
    case PROP_IMAGE_LOCATION: s.image_location = string_of(); break;
    case PROP_FILL_COLOR: s.fill_colour = g_value_get_uint(value); break;
    case PROP_BACKEND: s.backend = string_of(); break;
    case PROP_MODEL_LOCATION: s.model_location = string_of(); break;
    case PROP_SCORE_THRESHOLD: s.score_threshold = g_value_get_double(value); break;
    case PROP_PADDING: s.padding = g_value_get_double(value); break;
    case PROP_INTERVAL: s.interval = g_value_get_uint(value); break;
    case PROP_FAIL_MODE: s.fail_mode = static_cast<FailModeProp>(g_value_get_enum(value)); break;
    case PROP_DETECT_TIMEOUT: s.detect_timeout_ms = g_value_get_uint(value); break;
    case PROP_REDACT_ROI_TYPES: s.redact_roi_types = string_of(); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); break;
  }
}

static void vigil_plate_blur_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* self = VIGIL_PLATE_BLUR(object);
  std::lock_guard<std::mutex> lock(self->priv->settings_mutex);
  const Settings& s = self->priv->settings;
  switch (id) {
    case PROP_MODE: g_value_set_enum(value, static_cast<gint>(s.mode)); break;
    case PROP_IMAGE_LOCATION: g_value_set_string(value, s.image_location.c_str()); break;
    case PROP_FILL_COLOR: g_value_set_uint(value, s.fill_colour); break;
    case PROP_BACKEND: g_value_set_string(value, s.backend.c_str()); break;
    case PROP_MODEL_LOCATION: g_value_set_string(value, s.model_location.c_str()); break;
    case PROP_SCORE_THRESHOLD: g_value_set_double(value, s.score_threshold); break;
    case PROP_PADDING: g_value_set_double(value, s.padding); break;
    case PROP_INTERVAL: g_value_set_uint(value, s.interval); break;
    case PROP_FAIL_MODE: g_value_set_enum(value, static_cast<gint>(s.fail_mode)); break;
    case PROP_DETECT_TIMEOUT: g_value_set_uint(value, s.detect_timeout_ms); break;
    case PROP_REDACT_ROI_TYPES: g_value_set_string(value, s.redact_roi_types.c_str()); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); break;
  }
}

static Settings copySettings(VigilPlateBlur* self) {
  std::lock_guard<std::mutex> lock(self->priv->settings_mutex);
  return self->priv->settings;
}

static vigil::plates::FailMode toFailMode(FailModeProp mode) {
  return mode == FailModeProp::WholeFrame ? vigil::plates::FailMode::WholeFrame
                                          : vigil::plates::FailMode::GrowBoxes;
}

static gboolean vigil_plate_blur_start(GstBaseTransform* transform) {
  auto* self = VIGIL_PLATE_BLUR(transform);
  return vigil::gst::guarded(GST_ELEMENT(transform), "plateblur start", FALSE, [&]() -> gboolean {
    const Settings settings = copySettings(self);
    State& state = self->priv->state;
    state = State{};
    if (!settings.image_location.empty()) {
      try {
        state.image_bgr = vigil::plates::loadRedactionImage(settings.image_location);
      } catch (const std::exception& error) {
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("%s", error.what()),
                          ("image-location=%s", settings.image_location.c_str()));
        return FALSE;
      }
    } else if (settings.mode == BlurMode::Image) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("mode=image needs image-location"), (nullptr));
      return FALSE;
    }
    vigil::plates::DetectorOptions options;
    options.model_path = settings.model_location;
    options.score_threshold = static_cast<float>(settings.score_threshold);
    std::unique_ptr<vigil::plates::PlateDetector> detector;
    try {
      detector = vigil::plates::makePlateDetector(settings.backend, options);
    } catch (const std::exception& error) {
      GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("cannot create plate detector: %s", error.what()),
                        ("backend=%s model-location=%s", settings.backend.c_str(),
                         settings.model_location.c_str()));
      return FALSE;
    }
    vigil::plates::CoverageOptions coverage;
    coverage.interval = static_cast<int>(settings.interval);
    coverage.padding = static_cast<float>(settings.padding);
    coverage.min_padding_pixels = kMinPaddingPixels;
    coverage.detect_timeout = std::chrono::milliseconds(settings.detect_timeout_ms);
    coverage.fail_mode = toFailMode(settings.fail_mode);
    state.coverage = std::make_unique<vigil::plates::PlateCoverage>(std::move(detector), coverage);
    GST_INFO_OBJECT(self, "plate detector '%s' ready", settings.backend.c_str());
    return TRUE;
  });
}

static gboolean vigil_plate_blur_stop(GstBaseTransform* transform) {
  auto* self = VIGIL_PLATE_BLUR(transform);
  return vigil::gst::guarded(GST_ELEMENT(transform), "plateblur stop", FALSE, [&]() -> gboolean {
    self->priv->state = State{};  // joins the detector thread
    return TRUE;
  });
}

static gboolean vigil_plate_blur_set_info(GstVideoFilter* filter, GstCaps*, GstVideoInfo* in_info, GstCaps*,
                                          GstVideoInfo*) {
  auto* self = VIGIL_PLATE_BLUR(filter);
  State& state = self->priv->state;
  switch (GST_VIDEO_INFO_FORMAT(in_info)) {
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_NV12: state.layout = Layout::Yuv420; break;
    case GST_VIDEO_FORMAT_BGR:
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA: state.layout = Layout::Bgr; break;
    case GST_VIDEO_FORMAT_RGB:
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA: state.layout = Layout::Rgb; break;
    case GST_VIDEO_FORMAT_GRAY8: state.layout = Layout::Grey; break;
    default: return FALSE;
  }
  return TRUE;
}

// The detector's input from the mapped frame: a downscaled copy (the worker
// thread reads it after this buffer has moved on).
static cv::Mat detectorInput(const GstVideoFrame* frame, const vigil::plates::InputSpec& spec) {
  if (spec.colour) return vigil::gst::downscaledBgr(frame, spec.max_side);
  const cv::Mat luma = vigil::gst::lumaView(frame);
  const int longest = std::max(luma.cols, luma.rows);
  if (spec.max_side <= 0 || longest <= spec.max_side) return luma.clone();
  const double scale = static_cast<double>(spec.max_side) / longest;
  cv::Mat small;
  cv::resize(luma, small, cv::Size(), scale, scale, cv::INTER_AREA);
  return small;
}

static void redactRegions(GstVideoFrame* frame, Layout layout, const std::vector<cv::Rect>& regions,
                          const vigil::plates::RedactionStyle& style) {
  if (regions.empty()) return;
  switch (layout) {
    case Layout::Yuv420: {
      vigil::plates::Yuv420Planes planes;
      planes.y = vigil::gst::planeView(frame, 0);
      if (GST_VIDEO_FRAME_FORMAT(frame) == GST_VIDEO_FORMAT_NV12) {
        planes.uv = vigil::gst::planeView(frame, 1);
      } else {
        planes.u = vigil::gst::planeView(frame, 1);
        planes.v = vigil::gst::planeView(frame, 2);
      }
      for (const auto& region : regions) vigil::plates::redactYuv420(planes, region, style);
      break;
    }
    case Layout::Bgr:
    case Layout::Rgb: {
      cv::Mat packed = vigil::gst::planeView(frame, 0);
      for (const auto& region : regions) vigil::plates::redactBgr(packed, region, style);
      break;
    }
    case Layout::Grey: {
      cv::Mat grey = vigil::gst::planeView(frame, 0);
      for (const auto& region : regions) vigil::plates::redactGrey(grey, region, style);
      break;
    }
  }
}

static GstFlowReturn vigil_plate_blur_transform_frame_ip(GstVideoFilter* filter, GstVideoFrame* frame) {
  auto* self = VIGIL_PLATE_BLUR(filter);
  return vigil::gst::guarded(GST_ELEMENT(filter), "plateblur", GST_FLOW_ERROR, [&]() -> GstFlowReturn {
    const Settings settings = copySettings(self);
    State& state = self->priv->state;
    if (!state.coverage) return GST_FLOW_NOT_NEGOTIATED;
    const std::int64_t index = state.frame_index++;
    const cv::Size size(GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame));
    const cv::Rect whole(0, 0, size.width, size.height);
    GstBuffer* buffer = frame->buffer;

    state.coverage->setSchedule(static_cast<int>(settings.interval), static_cast<float>(settings.padding),
                                toFailMode(settings.fail_mode));
    cv::Mat input;
    if (state.coverage->wantsDetection(index)) input = detectorInput(frame, state.coverage->input());
    const vigil::plates::CoveragePlan plan = state.coverage->plan(index, input, size);
    if (!plan.error.empty()) {
      GST_ELEMENT_WARNING(self, LIBRARY, FAILED, ("plate detector failed; redacting conservatively"),
                          ("%s", plan.error.c_str()));
    }

    std::vector<cv::Rect> regions;
    if (plan.whole_frame) {
      regions.push_back(whole);
    } else {
      for (const auto& plate : plan.plates) regions.push_back(plate.box);
      // Other analysers' objects (e.g. faces), padded like plates.
      const auto types = splitList(settings.redact_roi_types);
      if (!types.empty()) {
        for (GstVideoRegionOfInterestMeta* roi : vigil::gst::regionsOfInterest(buffer)) {
          const char* type = g_quark_to_string(roi->roi_type);
          if (!type || std::find(types.begin(), types.end(), type) == types.end()) continue;
          const cv::Rect2f box(static_cast<float>(roi->x), static_cast<float>(roi->y),
                               static_cast<float>(roi->w), static_cast<float>(roi->h));
          regions.push_back(vigil::plates::padded(box, static_cast<float>(settings.padding), kMinPaddingPixels) & whole);
        }
      }
    }

    vigil::plates::RedactionStyle style;
    style.fill_bgr = bgrFromArgb(settings.fill_colour);
    switch (settings.mode) {
      case BlurMode::Blur: style.mode = vigil::plates::RedactionMode::Blur; break;
      case BlurMode::Pixelate: style.mode = vigil::plates::RedactionMode::Pixelate; break;
      case BlurMode::Fill: style.mode = vigil::plates::RedactionMode::Fill; break;
      case BlurMode::Image:
        if (state.image_bgr.empty()) {
          // Switched to image while playing without a picture: still redact.
          if (!state.warned_no_image) {
            GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("mode=image without image-location; filling instead"),
                                (nullptr));
            state.warned_no_image = true;
          }
          style.mode = vigil::plates::RedactionMode::Fill;
        } else {
          style.mode = vigil::plates::RedactionMode::Image;
          style.image_bgr = state.image_bgr;
        }
        break;
    }
    if (state.layout == Layout::Rgb) {
      // Same code path for RGB-ordered frames: swap what carries colour.
      std::swap(style.fill_bgr[0], style.fill_bgr[2]);
      if (!style.image_bgr.empty()) cv::cvtColor(style.image_bgr, style.image_bgr, cv::COLOR_BGR2RGB);
    }
    redactRegions(frame, state.layout, regions, style);

    // Objects and summary: boxes, scores and ids only — plate text is never
    // read, so it can never be published.
    std::set<std::int64_t> tracks;
    for (const auto& plate : plan.plates) {
      vigil::gst::addObject(buffer, kPlates.roi_type, plate.box.x, plate.box.y, plate.box.width,
                            plate.box.height, plate.score, plate.track_id);
      tracks.insert(plate.track_id);
    }
    const bool changed = state.first_frame || tracks != state.published_tracks;
    GstStructure* analysis = vigil::gst::addAnalysis(buffer, kPlates.event_kind, kPlates.roi_type, changed);
    gst_structure_set(analysis, vigil::events::key::plates::kCount, G_TYPE_INT, static_cast<gint>(plan.plates.size()), nullptr);
    state.published_tracks = std::move(tracks);
    state.first_frame = false;
    GST_LOG_OBJECT(self, "frame %" G_GINT64_FORMAT ": %zu plate(s), %zu region(s), state %d%s", index,
                   plan.plates.size(), regions.size(), static_cast<int>(plan.state),
                   plan.whole_frame ? ", whole frame" : "");
    return GST_FLOW_OK;
  });
}

static void vigil_plate_blur_class_init(VigilPlateBlurClass* klass) {
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  auto* transform_class = GST_BASE_TRANSFORM_CLASS(klass);
  auto* filter_class = GST_VIDEO_FILTER_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(vigil_plate_blur_debug, "plateblur", 0, "Vigil licence plate anonymizer");

  object_class->set_property = vigil_plate_blur_set_property;
  object_class->get_property = vigil_plate_blur_get_property;
  object_class->finalize = vigil_plate_blur_finalize;

  const auto ready = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  const auto playing =
      static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  g_object_class_install_property(
      object_class, PROP_MODE,
      g_param_spec_enum("mode", "Mode", "How plates are redacted", VIGIL_TYPE_PLATE_BLUR_MODE,
                        static_cast<gint>(kDefaultMode), playing));
  g_object_class_install_property(
      object_class, PROP_IMAGE_LOCATION,
      g_param_spec_string("image-location", "Image location",
                          "Picture (JPEG, PNG, ...) scaled onto each plate in mode=image; loaded on start",
                          nullptr, ready));
  g_object_class_install_property(
      object_class, PROP_FILL_COLOR,
      g_param_spec_uint("fill-color", "Fill color", "Colour for mode=fill, as 0xAARRGGBB", 0, G_MAXUINT32,
                        kDefaultFillColour, playing));
  g_object_class_install_property(
      object_class, PROP_BACKEND,
      g_param_spec_string("backend", "Backend",
                          "Plate detector: edges (classical localiser, default), haar (opencv-data "
                          "Russian plate cascade) or onnx (your YOLO-style model in model-location)",
                          vigil::plates::kDefaultBackend, ready));
  g_object_class_install_property(
      object_class, PROP_MODEL_LOCATION,
      g_param_spec_string("model-location", "Model location",
                          "Model file: required for backend=onnx; a cascade XML for backend=haar", nullptr,
                          ready));
  g_object_class_install_property(
      object_class, PROP_SCORE_THRESHOLD,
      g_param_spec_double("score-threshold", "Score threshold",
                          "Least detection score, 0..1 (-1: the backend's default). Lower leaks less",
                          -1.0, 1.0, kDefaultScoreThreshold, ready));
  g_object_class_install_property(
      object_class, PROP_PADDING,
      g_param_spec_double("padding", "Padding",
                          "Fraction of each plate box added on every side before redacting", 0.0, kMaxPadding,
                          kDefaultPadding, playing));
  g_object_class_install_property(
      object_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval",
                        "Detect every N frames; plates are tracked and redacted on every frame", 1,
                        kMaxInterval, kDefaultInterval, playing));
  g_object_class_install_property(
      object_class, PROP_FAIL_MODE,
      g_param_spec_enum("fail-mode", "Fail mode",
                        "What is redacted when the detector is late or fails", VIGIL_TYPE_PLATE_BLUR_FAIL_MODE,
                        static_cast<gint>(kDefaultFailMode), playing));
  g_object_class_install_property(
      object_class, PROP_DETECT_TIMEOUT,
      g_param_spec_uint("detect-timeout", "Detect timeout",
                        "Milliseconds a frame waits for its detection before it is redacted "
                        "conservatively (0: never wait)",
                        0, kMaxDetectTimeoutMs, kDefaultDetectTimeoutMs, ready));
  g_object_class_install_property(
      object_class, PROP_REDACT_ROI_TYPES,
      g_param_spec_string("redact-roi-types", "Redact ROI types",
                          "Comma-separated ROI meta types from upstream also redacted, e.g. \"face\"", nullptr,
                          playing));

  gst_element_class_set_static_metadata(element_class, "Licence plate anonymizer", "Filter/Effect/Video",
                                        "Detects licence plates and redacts them in place on every frame, "
                                        "failing closed",
                                        "Vigil");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  transform_class->start = GST_DEBUG_FUNCPTR(vigil_plate_blur_start);
  transform_class->stop = GST_DEBUG_FUNCPTR(vigil_plate_blur_stop);
  filter_class->set_info = GST_DEBUG_FUNCPTR(vigil_plate_blur_set_info);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(vigil_plate_blur_transform_frame_ip);

  gst_type_mark_as_plugin_api(VIGIL_TYPE_PLATE_BLUR_MODE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_PLATE_BLUR_FAIL_MODE, static_cast<GstPluginAPIFlags>(0));
}
