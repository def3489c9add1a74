#include "motioncount.hpp"

#include "motion_counter.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/gst/analyser.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/meta.hpp"

#include <memory>
#include <mutex>

namespace {

using vigil::toy::kMotion;

constexpr guint kDefaultMinArea = 25;

struct Settings {
  guint min_area = kDefaultMinArea;
};

// The toy's own event keys: what keys.hpp would get for a real analytic.
constexpr const char* kCountKey = vigil::events::key::detections::kCount;

struct Toy {
  vigil::gst::SharedSettings<Settings> settings;
  std::unique_ptr<vigil::toy::MotionCounter> counter;  // streaming thread, between start and stop
  int published_count = -1;
};

}  // namespace

struct MotionCount {
  VigilAnalyser parent;
  Toy* toy;
};
struct MotionCountClass {
  VigilAnalyserClass parent_class;
};

G_DEFINE_TYPE(MotionCount, motion_count, VIGIL_TYPE_ANALYSER)

namespace {

Toy& toyOf(gpointer self) { return *reinterpret_cast<MotionCount*>(self)->toy; }

gboolean startAnalysis(VigilAnalyser* self) {
  Toy& toy = toyOf(self);
  toy.counter = std::make_unique<vigil::toy::MotionCounter>(static_cast<int>(toy.settings.copy().min_area));
  toy.published_count = -1;
  return TRUE;
}

void stopAnalysis(VigilAnalyser* self) { toyOf(self).counter.reset(); }

void analyse(VigilAnalyser* self, GstBuffer* buffer, const GstVideoFrame* frame) {
  Toy& toy = toyOf(self);
  const std::vector<cv::Rect> boxes = toy.counter->update(vigil::gst::lumaView(frame));
  for (const cv::Rect& box : boxes) {
    vigil::gst::addObject(buffer, kMotion.roi_type, box.x, box.y, box.width, box.height, 1.0, -1);
  }
  const int count = static_cast<int>(boxes.size());
  // Published when the count changes, like the real analysers' default policy.
  GstStructure* summary = vigil::gst::addAnalysis(buffer, kMotion.event_kind, kMotion.roi_type,
                                                  count != toy.published_count);
  gst_structure_set(summary, kCountKey, G_TYPE_INT, count, nullptr);
  toy.published_count = count;
}

}  // namespace

static const vigil::gst::ElementProperties& properties() {
  static const auto table =
      vigil::gst::PropertyTable<Settings>(
            [](GObject* object) -> vigil::gst::SharedSettings<Settings>& { return toyOf(object).settings; })
           .count("min-area", "Minimum area", "Smallest moving region counted, in pixels", &Settings::min_area, 1,
                   1 << 24, vigil::gst::Mutable::kReady);
  return table;
}

static void motion_count_init(MotionCount* self) { self->toy = new Toy(); }

static void motion_count_finalize(GObject* object) {
  delete reinterpret_cast<MotionCount*>(object)->toy;
  G_OBJECT_CLASS(motion_count_parent_class)->finalize(object);
}

static void motion_count_class_init(MotionCountClass* klass) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  VigilAnalyserClass* analyser_class = reinterpret_cast<VigilAnalyserClass*>(klass);
  object_class->finalize = motion_count_finalize;
  vigil_analyser_class_install(analyser_class, vigil::gst::kDefaultAnalyserInterval, &properties());
  analyser_class->start_analysis = startAnalysis;
  analyser_class->stop_analysis = stopAnalysis;
  analyser_class->analyse = analyse;

  gst_element_class_set_static_metadata(element_class, "Motion counter (test toy)", "Filter/Analyzer/Video",
                                        "Counts moving regions; a test-only analytic", "Vigil developers");
}

namespace vigil::toy {

void registerMotionAnalytic() {
  static std::once_flag once;
  std::call_once(once, [] {
    vigil::gst::registerAnalysisMeta();
    analytics::add(kMotion);
    gst_element_register(nullptr, kMotion.element, GST_RANK_NONE, motion_count_get_type());
  });
}

}  // namespace vigil::toy
