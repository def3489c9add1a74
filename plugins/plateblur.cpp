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
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"
#include "vigil/plates/coverage.hpp"
#include "vigil/plates/detector.hpp"
#include "vigil/plates/redaction.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
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
constexpr guint kDefaultInterval = vigil::gst::kDefaultAnalyserInterval;
constexpr double kDefaultPadding = 0.15;
constexpr double kMaxPadding = 2.0;
constexpr double kDefaultScoreThreshold = -1.0;  // the backend's own default
constexpr guint kDefaultDetectTimeoutMs = 100;
constexpr guint kMaxDetectTimeoutMs = 10000;
constexpr guint kDefaultFillColour = 0xff000000;  // ARGB, opaque black
constexpr int kMinPaddingPixels = 4;

// What the user sets; the defaults are these initialisers (see properties
// below). `interval` is the base's.
struct Settings {
  BlurMode mode = kDefaultMode;
  std::string image_location;
  guint fill_colour = kDefaultFillColour;
  std::string backend = vigil::plates::kDefaultBackend;
  std::string model_location;
  double score_threshold = kDefaultScoreThreshold;
  double padding = kDefaultPadding;
  FailModeProp fail_mode = kDefaultFailMode;
  guint detect_timeout_ms = kDefaultDetectTimeoutMs;
  std::string redact_roi_types;
  // Parsed from redact_roi_types when it is set, shared so that the
  // per-frame copy of the settings does not copy the list.
  std::shared_ptr<const std::vector<std::string>> redact_types = std::make_shared<std::vector<std::string>>();
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
  vigil::gst::SharedSettings<Settings> settings;
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

void parseRedactTypes(Settings& settings) {
  settings.redact_types = std::make_shared<std::vector<std::string>>(splitList(settings.redact_roi_types));
}

cv::Scalar bgrFromArgb(guint argb) {
  return cv::Scalar(argb & 0xff, (argb >> 8) & 0xff, (argb >> 16) & 0xff, (argb >> 24) & 0xff);
}

}  // namespace

struct _VigilPlateBlur {
  VigilAnalyser parent;
  Private* priv;
};

G_DEFINE_TYPE(VigilPlateBlur, vigil_plate_blur, VIGIL_TYPE_ANALYSER)
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

static void vigil_plate_blur_init(VigilPlateBlur* self) { self->priv = new Private; }

static void vigil_plate_blur_finalize(GObject* object) {
  delete VIGIL_PLATE_BLUR(object)->priv;
  G_OBJECT_CLASS(vigil_plate_blur_parent_class)->finalize(object);
}

static Settings copySettings(gpointer self) { return VIGIL_PLATE_BLUR(self)->priv->settings.copy(); }

static vigil::plates::FailMode toFailMode(FailModeProp mode) {
  return mode == FailModeProp::WholeFrame ? vigil::plates::FailMode::WholeFrame
                                          : vigil::plates::FailMode::GrowBoxes;
}

static gboolean startRedacting(VigilAnalyser* base) {
  auto* self = VIGIL_PLATE_BLUR(base);
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
  coverage.interval = static_cast<int>(vigil_analyser_interval(base));
  coverage.padding = static_cast<float>(settings.padding);
  coverage.min_padding_pixels = kMinPaddingPixels;
  coverage.detect_timeout = std::chrono::milliseconds(settings.detect_timeout_ms);
  coverage.fail_mode = toFailMode(settings.fail_mode);
  state.coverage = std::make_unique<vigil::plates::PlateCoverage>(std::move(detector), coverage);
  GST_INFO_OBJECT(self, "plate detector '%s' ready", settings.backend.c_str());
  return TRUE;
}

static void stopRedacting(VigilAnalyser* base) {
  VIGIL_PLATE_BLUR(base)->priv->state = State{};  // joins the detector thread
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

static void redactRegions(const GstVideoFrame* frame, Layout layout, const std::vector<cv::Rect>& regions,
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

// Every frame, mapped READ|WRITE by the base: the coverage decides whether
// a detection is due (every `interval` frames) and what must be redacted now.
static void redactFrame(VigilAnalyser* base, GstBuffer* buffer, const GstVideoFrame* frame) {
  auto* self = VIGIL_PLATE_BLUR(base);
  const Settings settings = copySettings(self);
  State& state = self->priv->state;
  if (!state.coverage) throw std::logic_error("a frame arrived before start()");
  const std::int64_t index = state.frame_index++;
  const cv::Size size(GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame));
  const cv::Rect whole(0, 0, size.width, size.height);

  state.coverage->setSchedule(static_cast<int>(vigil_analyser_interval(base)), static_cast<float>(settings.padding),
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
    const std::vector<std::string>& types = *settings.redact_types;
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
}

// Each property once: the base installs, sets and reads them.
static const vigil::gst::ElementProperties& properties() {
  using vigil::gst::Mutable;
  static const auto table =
      vigil::gst::PropertyTable<Settings>(
          [](GObject* object) -> vigil::gst::SharedSettings<Settings>& { return VIGIL_PLATE_BLUR(object)->priv->settings; })
          .choice("mode", "Mode", "How plates are redacted", vigil_plate_blur_mode_get_type, &Settings::mode)
          .text("image-location", "Image location",
                "Picture (JPEG, PNG, ...) scaled onto each plate in mode=image; loaded on start",
                &Settings::image_location, nullptr, Mutable::kReady)
          .count("fill-color", "Fill color", "Colour for mode=fill, as 0xAARRGGBB", &Settings::fill_colour, 0,
                 G_MAXUINT32)
          .text("backend", "Backend",
                "Plate detector: edges (classical localiser, default), haar (opencv-data Russian plate cascade) "
                "or onnx (your YOLO-style model in model-location)",
                &Settings::backend, nullptr, Mutable::kReady)
          .text("model-location", "Model location",
                "Model file: required for backend=onnx; a cascade XML for backend=haar", &Settings::model_location,
                nullptr, Mutable::kReady)
          .number("score-threshold", "Score threshold",
                  "Least detection score, 0..1 (-1: the backend's default). Lower leaks less",
                  &Settings::score_threshold, -1.0, 1.0, Mutable::kReady)
          .number("padding", "Padding", "Fraction of each plate box added on every side before redacting",
                  &Settings::padding, 0.0, kMaxPadding)
          .choice("fail-mode", "Fail mode", "What is redacted when the detector is late or fails",
                  vigil_plate_blur_fail_mode_get_type, &Settings::fail_mode)
          .count("detect-timeout", "Detect timeout",
                 "Milliseconds a frame waits for its detection before it is redacted conservatively (0: never "
                 "wait)",
                 &Settings::detect_timeout_ms, 0, kMaxDetectTimeoutMs, Mutable::kReady)
          .text("redact-roi-types", "Redact ROI types",
                "Comma-separated ROI meta types from upstream also redacted, e.g. \"face\"",
                &Settings::redact_roi_types, parseRedactTypes);
  return table;
}

static void vigil_plate_blur_class_init(VigilPlateBlurClass* klass) {
  auto* object_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  auto* filter_class = GST_VIDEO_FILTER_CLASS(klass);
  auto* analyser_class = VIGIL_ANALYSER_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(vigil_plate_blur_debug, "plateblur", 0, "Vigil licence plate anonymizer");
  object_class->finalize = vigil_plate_blur_finalize;

  gst_element_class_set_static_metadata(element_class, "Licence plate anonymizer", "Filter/Effect/Video",
                                        "Detects licence plates and redacts them in place on every frame, "
                                        "failing closed",
                                        "Vigil");

  // The exception guard, the map and the properties come from VigilAnalyser:
  // every frame is mapped READ|WRITE, since every frame is redacted; the
  // coverage schedules detection with `interval`.
  vigil_analyser_class_install(analyser_class, kDefaultInterval, &properties());
  analyser_class->every_frame = TRUE;
  analyser_class->writes_pixels = TRUE;
  analyser_class->start_analysis = startRedacting;
  analyser_class->stop_analysis = stopRedacting;
  analyser_class->analyse = redactFrame;
  filter_class->set_info = GST_DEBUG_FUNCPTR(vigil_plate_blur_set_info);

  gst_type_mark_as_plugin_api(VIGIL_TYPE_PLATE_BLUR_MODE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_PLATE_BLUR_FAIL_MODE, static_cast<GstPluginAPIFlags>(0));
}
