/**
 * SECTION:element-codereader
 * @title: codereader
 *
 * Reads barcodes and 2-D codes on the luma plane of every frame, or of every
 * N-th frame (`interval`), in the whole frame or a region (`roi`). 2-D codes
 * go to zxing-cpp, 1-D codes to zbar (Debian's zxing-cpp 1.4 can abort() on
 * 1-D codes, so it never sees them). GS1 data is parsed into its application
 * identifiers, with check digits and dates validated.
 *
 * Codes are followed across frames (IoU tracker keyed by the decoded text), so
 * one appearance yields one published `codes` event: per frame the element
 * attaches one GstVideoRegionOfInterestMeta per visible code (roi_type
 * `barcode`, params `vigil-object` with `format`, `text`, `gs1`, `first_seen`,
 * `state`) and one analysis summary `codes` with `count` (visible codes). The
 * summary is marked for publishing only on frames where a code was first read
 * (`state` "appeared") or, with `report-left`, stopped being seen for
 * `lost-after` analysed frames (`state` "left"); other codes on that frame
 * carry `publish`=FALSE so the event lists only what changed.
 *
 * `text` is the content as read: the AIM symbology identifier (e.g. "]Q1",
 * "]C1", "]E0") followed by the raw data, GS (0x1D) separating GS1 fields.
 * `gs1` is a structure AI -> interpreted value (e.g. "01" -> GTIN, "17" ->
 * "2020-01-31", "3103" -> "1.234"), plus `errors` (array of strings) when the
 * data is invalid. `first_seen` is the capture time (ns since the epoch) of
 * the frame the code was first read on: the runner's, or, in a plain launch
 * line, the wall clock when the frame reached the first analyser (the same
 * instant `eventpublish` publishes as the event's `ts`).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=dock.mkv ! decodebin ! videoconvert ! \
 *   codereader formats="qr,datamatrix,ean13,code128" roi="0.1,0.2,0.8,0.6" report-left=true ! \
 *   eventpublish ! fakesink
 * ]|
 */
#include "codereader.hpp"

#include "vigil/analytics/registry.hpp"
#include "vigil/codes/code_reader.hpp"
#include "vigil/codes/format.hpp"
#include "vigil/codes/gs1.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"
#include "vigil/tracking/iou_tracker.hpp"

#include <gst/video/video.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(vigil_code_reader_debug);
#define GST_CAT_DEFAULT vigil_code_reader_debug

namespace {

// This element's row in the analytics table: its factory name, event kind and ROI type.
using vigil::analytics::kCodes;

namespace key = vigil::events::key::codes;

// Every frame by default: conveyors move codes quickly through the picture.
constexpr guint kDefaultInterval = vigil::gst::kDefaultAnalyserInterval;
constexpr const char* kDefaultFormats = "all";
constexpr const char* kDefaultRoi = "";
constexpr bool kDefaultReportLeft = false;
constexpr guint kDefaultLostAfter = 10;
constexpr guint kMaxLostAfter = 100000;
constexpr double kReadScore = 1.0;  // decoders either read a code or not
// Codes move between reads; the text key keeps different codes apart, so a
// small overlap is enough to continue a track.
constexpr float kTrackMinIou = 0.05f;

// What the user sets; the defaults are these initialisers (see properties below).
struct Settings {
  std::string formats_text = kDefaultFormats;
  vigil::codes::FormatSet formats = vigil::codes::FormatSet::all();  // parsed from formats_text
  std::string roi_text = kDefaultRoi;
  std::optional<cv::Rect2f> roi;  // parsed from roi_text, normalised; none = whole frame
  bool report_left = kDefaultReportLeft;
  guint lost_after = kDefaultLostAfter;
};

// What the element knows about a followed code.
struct FollowedCode {
  vigil::codes::Code code;
  std::int64_t first_seen_ns = 0;
};

// Stream state: created in start(), touched only by the streaming thread.
struct Running {
  std::unique_ptr<vigil::codes::CodeReader> reader;
  vigil::codes::FormatSet reader_formats;
  std::unique_ptr<vigil::tracking::IouTracker> tracker;
  guint tracker_lost_after = 0;
  std::map<std::int64_t, FollowedCode> followed;  // by track id
  std::int64_t frame = 0;
};

struct Private {
  vigil::gst::SharedSettings<Settings> settings;
  std::unique_ptr<Running> running;
};

// "x,y,w,h" in [0,1]; empty = whole frame. Throws std::invalid_argument.
std::optional<cv::Rect2f> parseRoi(const std::string& text) {
  if (text.find_first_not_of(" \t") == std::string::npos) return std::nullopt;
  std::istringstream in(text);
  float values[4];
  char comma = 0;
  for (int i = 0; i < 4; ++i) {
    if (!(in >> values[i])) throw std::invalid_argument("expected \"x,y,w,h\" with four numbers");
    if (i < 3 && (!(in >> comma) || comma != ',')) throw std::invalid_argument("expected \"x,y,w,h\" separated by commas");
  }
  std::string rest;
  if (in >> rest) throw std::invalid_argument("unexpected text after \"x,y,w,h\": " + rest);
  const cv::Rect2f roi(values[0], values[1], values[2], values[3]);
  if (roi.x < 0.f || roi.y < 0.f || roi.width <= 0.f || roi.height <= 0.f || roi.x + roi.width > 1.f + 1e-6f ||
      roi.y + roi.height > 1.f + 1e-6f) {
    throw std::invalid_argument("region must lie within the frame: 0 <= x, y and x+w, y+h <= 1, w, h > 0");
  }
  return roi;
}

void parseFormats(Settings& settings) { settings.formats = vigil::codes::parseFormatList(settings.formats_text); }
void parseRegion(Settings& settings) { settings.roi = parseRoi(settings.roi_text); }

}  // namespace

struct _VigilCodeReader {
  VigilAnalyser parent;
  Private* priv;
};

G_DEFINE_TYPE(VigilCodeReader, vigil_code_reader, VIGIL_TYPE_ANALYSER)
GST_ELEMENT_REGISTER_DEFINE(codereader, kCodes.element, GST_RANK_NONE, VIGIL_TYPE_CODE_READER)

namespace {

Private* privateOf(gpointer self) { return VIGIL_CODE_READER(self)->priv; }

std::string trackKey(const vigil::codes::Code& code) {
  return std::string(vigil::codes::formatName(code.format)) + ":" + code.canonicalText();
}

// The `gs1` structure: AI -> interpreted value, and `errors` when invalid.
vigil::gst::StructurePtr gs1Structure(const vigil::codes::Gs1Data& data) {
  vigil::gst::StructurePtr structure(gst_structure_new_empty(key::kGs1));
  for (const auto& element : data.elements) {
    gst_structure_set(structure.get(), element.ai.c_str(), G_TYPE_STRING, element.value.c_str(), nullptr);
  }
  if (!data.errors.empty()) {
    GValue errors = G_VALUE_INIT;
    gst_value_array_init(&errors, static_cast<guint>(data.errors.size()));
    for (const auto& error : data.errors) {
      GValue item = G_VALUE_INIT;
      g_value_init(&item, G_TYPE_STRING);
      g_value_set_string(&item, error.c_str());
      gst_value_array_append_and_take_value(&errors, &item);
    }
    gst_structure_take_value(structure.get(), key::kGs1Errors, &errors);
  }
  return structure;
}

std::string validUtf8(const std::string& text) {
  if (g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr)) return text;
  vigil::gst::CharPtr valid(g_utf8_make_valid(text.data(), static_cast<gssize>(text.size())));
  return valid.get();
}

void attachCode(GstBuffer* buffer, const cv::Rect& box, std::int64_t track_id, const FollowedCode& followed,
                const char* state, bool publish) {
  GstStructure* object = vigil::gst::addObject(buffer, kCodes.roi_type, box.x, box.y, box.width,
                                               box.height, kReadScore, track_id);
  const vigil::codes::Code& code = followed.code;
  // `text` is what the code says (GS1 in bracket form), the key people and
  // rules match on; `raw` is how it was read: AIM symbology identifier, then
  // the bytes, with GS (0x1D) for FNC1.
  gst_structure_set(object, key::kFormat, G_TYPE_STRING, vigil::codes::formatName(code.format), key::kText,
                    G_TYPE_STRING, validUtf8(code.canonicalText()).c_str(), key::kRaw, G_TYPE_STRING,
                    validUtf8(code.text).c_str(), key::kFirstSeen, G_TYPE_INT64,
                    static_cast<gint64>(followed.first_seen_ns), key::kState, G_TYPE_STRING, state,
                    vigil::gst::kFieldPublish, G_TYPE_BOOLEAN, publish ? TRUE : FALSE, nullptr);
  if (const auto gs1 = code.gs1Data()) {
    vigil::gst::StructurePtr nested = gs1Structure(*gs1);
    gst_structure_set(object, key::kGs1, GST_TYPE_STRUCTURE, nested.get(), nullptr);
  }
}

cv::Rect clampedBox(const cv::Rect2f& box, int width, int height) {
  return cv::Rect(box) & cv::Rect(0, 0, width, height);
}

void ensureRunningMatches(Running& running, const Settings& settings) {
  if (!running.reader || !(running.reader_formats == settings.formats)) {
    vigil::codes::ReaderOptions options;
    options.formats = settings.formats;
    running.reader = std::make_unique<vigil::codes::CodeReader>(options);
    running.reader_formats = settings.formats;
  }
  if (!running.tracker || running.tracker_lost_after != settings.lost_after) {
    vigil::tracking::TrackerOptions options;
    options.min_iou = kTrackMinIou;
    options.max_misses = static_cast<int>(settings.lost_after);
    running.tracker = std::make_unique<vigil::tracking::IouTracker>(options);
    running.tracker_lost_after = settings.lost_after;
    running.followed.clear();
  }
}

// Running state for this frame, brought in line with the settings copied at
// the top of it.
Running& runningFor(VigilAnalyser* base, const Settings& settings) {
  Running* running = VIGIL_CODE_READER(base)->priv->running.get();
  if (!running) throw std::logic_error("a frame arrived before start()");
  ensureRunningMatches(*running, settings);
  return *running;
}

// Every frame: the followed codes (boxes carried forward between reads) and
// the summary. `appeared` were first read on this frame, `left` stopped being seen.
void attachCodes(GstBuffer* buffer, Running& running, const Settings& settings, int width, int height,
                 const std::vector<std::int64_t>& appeared, const std::vector<vigil::tracking::Track>& left) {
  int count = 0;
  for (const auto& track : running.tracker->predict(running.frame)) {
    const auto followed = running.followed.find(track.id);
    if (followed == running.followed.end()) continue;
    ++count;
    const bool is_new = std::find(appeared.begin(), appeared.end(), track.id) != appeared.end();
    attachCode(buffer, clampedBox(track.box, width, height), track.id, followed->second,
               is_new ? key::kStateAppeared : key::kStateVisible, is_new);
  }
  bool any_left = false;
  for (const auto& track : left) {
    const auto followed = running.followed.find(track.id);
    if (followed == running.followed.end()) continue;
    if (settings.report_left) {
      attachCode(buffer, clampedBox(track.box, width, height), track.id, followed->second, key::kStateLeft, true);
      any_left = true;
    }
    running.followed.erase(followed);
  }
  const bool publish = !appeared.empty() || any_left;
  GstStructure* summary = vigil::gst::addAnalysis(buffer, kCodes.event_kind, kCodes.roi_type, publish);
  gst_structure_set(summary, key::kCount, G_TYPE_INT, count, nullptr);
  ++running.frame;
}

// A frame due for reading (every `interval`-th), mapped READ by the base.
void readFrame(VigilAnalyser* base, GstBuffer* buffer, const GstVideoFrame* frame) {
  const Settings settings = VIGIL_CODE_READER(base)->priv->settings.copy();
  Running& running = runningFor(base, settings);
  const cv::Mat luma = vigil::gst::lumaView(frame);
  cv::Rect area(0, 0, luma.cols, luma.rows);
  if (settings.roi) {
    const cv::Rect2f& r = *settings.roi;
    area = cv::Rect(cvRound(r.x * luma.cols), cvRound(r.y * luma.rows), cvRound(r.width * luma.cols),
                    cvRound(r.height * luma.rows)) &
           cv::Rect(0, 0, luma.cols, luma.rows);
  }
  std::vector<vigil::codes::Code> codes;
  if (!area.empty()) codes = running.reader->read(luma(area));
  for (auto& code : codes) {
    code.box += area.tl();
    for (auto& corner : code.corners) corner += cv::Point2f(area.tl());
  }

  std::vector<vigil::tracking::Detection> detections;
  for (const auto& code : codes) detections.push_back({cv::Rect2f(code.box), static_cast<float>(kReadScore), trackKey(code)});
  // Epoch ns: the runner's capture time, or the wall clock VigilAnalyser
  // stamped on a frame that came without one. Never stream time.
  const std::int64_t now_ns = vigil::gst::stampCaptureTimeNs(buffer);
  std::vector<std::int64_t> appeared;
  for (const auto& track : running.tracker->update(detections, running.frame)) {
    if (track.last_seen_frame != running.frame) continue;
    const auto code = std::find_if(codes.begin(), codes.end(),
                                   [&](const auto& c) { return trackKey(c) == track.key; });
    if (code == codes.end()) continue;
    auto [entry, inserted] = running.followed.try_emplace(track.id);
    entry->second.code = *code;
    if (inserted) {
      entry->second.first_seen_ns = now_ns;
      appeared.push_back(track.id);
    }
  }
  const std::vector<vigil::tracking::Track> left = running.tracker->takeEnded();
  GST_LOG_OBJECT(base, "frame %" G_GINT64_FORMAT ": %zu codes read, %zu new, %zu left", running.frame,
                 codes.size(), appeared.size(), left.size());
  attachCodes(buffer, running, settings, GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame), appeared,
              left);
}

// A frame between reads: the followed codes where the tracker predicts them.
void carryFrame(VigilAnalyser* base, GstBuffer* buffer) {
  const Settings settings = VIGIL_CODE_READER(base)->priv->settings.copy();
  Running& running = runningFor(base, settings);
  const GstVideoInfo& info = GST_VIDEO_FILTER(base)->in_info;
  attachCodes(buffer, running, settings, GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info), {}, {});
}

gboolean startReading(VigilAnalyser* base) {
  Private* priv = VIGIL_CODE_READER(base)->priv;
  // The base has already refused to start on a formats or roi that did not parse.
  const Settings settings = priv->settings.copy();
  auto running = std::make_unique<Running>();
  ensureRunningMatches(*running, settings);
  priv->running = std::move(running);
  return TRUE;
}

void stopReading(VigilAnalyser* base) { VIGIL_CODE_READER(base)->priv->running.reset(); }

}  // namespace

// Each property once: the base installs, sets and reads them.
static const vigil::gst::ElementProperties& properties() {
  static const auto table =
      vigil::gst::PropertyTable<Settings>(
            [](GObject* object) -> vigil::gst::SharedSettings<Settings>& { return privateOf(object)->settings; })
           .text("formats", "Formats",
                  "Comma-separated formats to read, or \"all\": qr, datamatrix, aztec, pdf417, "
                  "ean13, ean8, upca, upce, code128, code39, itf (ITF-14 only)",
                  &Settings::formats_text, parseFormats)
           .text("roi", "Region",
                 "Read only inside \"x,y,w,h\" (normalised 0..1, e.g. \"0.25,0,0.5,1\"); empty: the whole frame",
                 &Settings::roi_text, parseRegion)
           .flag("report-left", "Report left", "Also publish one event (state \"left\") when a code is no longer seen",
                 &Settings::report_left)
           .count("lost-after", "Lost after",
                  "Analysed frames without reading a code after which it has left (a code read again later "
                  "is a new appearance)",
                  &Settings::lost_after, 1, kMaxLostAfter);
  return table;
}

static void vigil_code_reader_init(VigilCodeReader* self) { self->priv = new Private(); }

static void vigil_code_reader_finalize(GObject* object) {
  delete VIGIL_CODE_READER(object)->priv;
  G_OBJECT_CLASS(vigil_code_reader_parent_class)->finalize(object);
}

static void vigil_code_reader_class_init(VigilCodeReaderClass* klass) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  VigilAnalyserClass* analyser_class = VIGIL_ANALYSER_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(vigil_code_reader_debug, "codereader", 0, "Vigil code reader");

  object_class->finalize = vigil_code_reader_finalize;

  gst_element_class_set_static_metadata(
      element_class, "Code reader", "Filter/Analyzer/Video",
      "Reads barcodes, QR and DataMatrix codes (GS1 parsed); attaches code regions and one event per appearance",
      "Vigil <https://github.com/vigil>");

  // `interval`, the READ map, the exception guard and the properties come
  // from VigilAnalyser; between reads, boxes of followed codes are carried forward.
  vigil_analyser_class_install(analyser_class, kDefaultInterval, &properties());
  analyser_class->start_analysis = startReading;
  analyser_class->stop_analysis = stopReading;
  analyser_class->analyse = readFrame;
  analyser_class->between = carryFrame;
}
