#include "vigil/gst/analyser.hpp"

#include "vigil/gst/guard.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <algorithm>
#include <atomic>
#include <optional>
#include <stdexcept>

GST_DEBUG_CATEGORY_STATIC(vigil_analyser_debug);
#define GST_CAT_DEFAULT vigil_analyser_debug

namespace {

// The element's own properties (its table) follow `interval`.
enum { PROP_0, PROP_INTERVAL, PROP_FIRST_ELEMENT };

struct Settings {
  guint interval = vigil::gst::kDefaultAnalyserInterval;
};

}  // namespace

struct VigilAnalyserState {
  vigil::gst::SharedSettings<Settings> settings;
  std::atomic<guint64> frames{0};
  guint64 last_analysed = 0;  // streaming thread only
};

namespace {

VigilAnalyserState& stateOf(gpointer self) { return *VIGIL_ANALYSER(self)->state; }

const char* nameOf(gpointer self) { return GST_OBJECT_NAME(self) ? GST_OBJECT_NAME(self) : "analyser"; }

// The class this one derives from, looked up rather than kept in a static:
// the copy of this file that registered the type may not be the one running.
GObjectClass* parentClass() { return G_OBJECT_CLASS(g_type_class_peek(GST_TYPE_VIDEO_FILTER)); }

void vigil_analyser_class_init(gpointer klass, gpointer);
void vigil_analyser_init(GTypeInstance* instance, gpointer);

}  // namespace

GType vigil_analyser_get_type(void) {
  static const GType type = [] {
    // Registered once per process, by whichever copy of vigil::gst asks first.
    if (const GType existing = g_type_from_name("VigilAnalyser")) return existing;
    GTypeInfo info{};
    info.class_size = sizeof(VigilAnalyserClass);
    info.class_init = vigil_analyser_class_init;
    info.instance_size = sizeof(VigilAnalyser);
    info.instance_init = vigil_analyser_init;
    return g_type_register_static(GST_TYPE_VIDEO_FILTER, "VigilAnalyser", &info, G_TYPE_FLAG_ABSTRACT);
  }();
  return type;
}

guint64 vigil_analyser_frames(VigilAnalyser* self) { return stateOf(self).frames.load(); }

guint vigil_analyser_interval(VigilAnalyser* self) { return stateOf(self).settings.copy().interval; }

static gboolean vigil_analyser_start(GstBaseTransform* transform) {
  VigilAnalyserState& state = stateOf(transform);
  state.frames = 0;
  state.last_analysed = 0;
  VigilAnalyserClass* klass = VIGIL_ANALYSER_GET_CLASS(transform);
  // A value refused when it was set (kept so the element went on with the
  // previous one) must not start a stream.
  if (klass->properties) {
    if (const auto refusal = klass->properties->firstRefusal(G_OBJECT(transform))) {
      GST_ELEMENT_ERROR(transform, RESOURCE, SETTINGS,
                        ("invalid %s: %s", refusal->property.c_str(), refusal->why.c_str()),
                        ("%s=\"%s\"", refusal->property.c_str(), refusal->value.c_str()));
      return FALSE;
    }
  }
  if (!klass->start_analysis) return TRUE;
  return vigil::gst::guarded(GST_ELEMENT(transform), "start", FALSE,
                             [&]() -> gboolean { return klass->start_analysis(VIGIL_ANALYSER(transform)); });
}

static gboolean vigil_analyser_stop(GstBaseTransform* transform) {
  VigilAnalyserClass* klass = VIGIL_ANALYSER_GET_CLASS(transform);
  if (!klass->stop_analysis) return TRUE;
  return vigil::gst::guarded(GST_ELEMENT(transform), "stop", FALSE, [&]() -> gboolean {
    klass->stop_analysis(VIGIL_ANALYSER(transform));
    return TRUE;
  });
}

// Replaces GstVideoFilter's transform_ip, which would map READ|WRITE and so
// copy pixels shared with other branches.
static GstFlowReturn vigil_analyser_transform_ip(GstBaseTransform* transform, GstBuffer* buffer) {
  VigilAnalyserState& state = stateOf(transform);
  VigilAnalyserClass* klass = VIGIL_ANALYSER_GET_CLASS(transform);
  GstVideoFilter* filter = GST_VIDEO_FILTER(transform);
  const guint interval = std::max(1u, state.settings.copy().interval);
  const guint64 frame = ++state.frames;
  // Due on the first frame, then `interval` frames after the last analysed one
  // (a changed interval takes effect from the next analysis).
  const bool due = klass->every_frame || state.last_analysed == 0 || frame - state.last_analysed >= interval;
  return vigil::gst::guarded(GST_ELEMENT(transform), nameOf(transform), GST_FLOW_ERROR, [&]() -> GstFlowReturn {
    if (!klass->analyse) throw std::logic_error("the element does not implement analyse()");
    // Time fields are epoch ns in every launch mode: a frame no runner
    // stamped (gst-launch, appsrc) gets its capture time here.
    vigil::gst::stampCaptureTimeNs(buffer);
    if (!due) {
      if (klass->between) klass->between(VIGIL_ANALYSER(transform), buffer);
      return GST_FLOW_OK;
    }
    state.last_analysed = frame;
    GstVideoFrame mapped;
    // NO_REF: a mapped frame holding its own ref would make the buffer
    // read-only, and the analyser must still add metas to it.
    const auto access = klass->writes_pixels ? GST_MAP_READWRITE : GST_MAP_READ;
    const auto flags = static_cast<GstMapFlags>(access | GST_VIDEO_FRAME_MAP_FLAG_NO_REF);
    if (!gst_video_frame_map(&mapped, &filter->in_info, buffer, flags)) {
      GST_ELEMENT_ERROR(transform, STREAM, FAILED, ("Cannot map the frame"), (nullptr));
      return GST_FLOW_ERROR;
    }
    // Unmapped however analyse() leaves.
    struct Unmap {
      GstVideoFrame* frame;
      ~Unmap() { gst_video_frame_unmap(frame); }
    } unmap{&mapped};
    klass->analyse(VIGIL_ANALYSER(transform), buffer, &mapped);
    GST_LOG_OBJECT(transform, "frame %" G_GUINT64_FORMAT " analysed", frame);
    return GST_FLOW_OK;
  });
}

// Also serves the subclass's table: GObject calls the set_property of the
// class that installed a property, set to this by vigil_analyser_class_install().
static const vigil::gst::ElementProperties* tableOf(GParamSpec* spec) {
  auto* klass = static_cast<VigilAnalyserClass*>(g_type_class_peek(spec->owner_type));
  return klass ? klass->properties : nullptr;
}

static void vigil_analyser_set_property(GObject* object, guint id, const GValue* value, GParamSpec* spec) {
  if (id == PROP_INTERVAL) {
    const guint interval = g_value_get_uint(value);
    stateOf(object).settings.update([&](Settings& settings) { settings.interval = interval; });
    return;
  }
  const vigil::gst::ElementProperties* table = tableOf(spec);
  if (!table || id < PROP_FIRST_ELEMENT || id - PROP_FIRST_ELEMENT >= table->size()) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
    return;
  }
  const auto refusal = vigil::gst::guarded(GST_ELEMENT(object), spec->name, std::optional<vigil::gst::Refusal>{},
                                           [&] { return table->set(object, id - PROP_FIRST_ELEMENT, value); });
  if (refusal) {
    GST_ELEMENT_WARNING(object, RESOURCE, SETTINGS, ("invalid %s: %s", refusal->property.c_str(), refusal->why.c_str()),
                        ("the previous value stays in use while running"));
  }
}

static void vigil_analyser_get_property(GObject* object, guint id, GValue* value, GParamSpec* spec) {
  if (id == PROP_INTERVAL) {
    g_value_set_uint(value, stateOf(object).settings.copy().interval);
    return;
  }
  const vigil::gst::ElementProperties* table = tableOf(spec);
  if (!table || id < PROP_FIRST_ELEMENT || id - PROP_FIRST_ELEMENT >= table->size()) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
    return;
  }
  table->get(object, id - PROP_FIRST_ELEMENT, value);
}

void vigil_analyser_class_install(VigilAnalyserClass* klass, guint default_interval,
                                  const vigil::gst::ElementProperties* properties) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  klass->default_interval = default_interval;
  klass->properties = properties;
  // GObject does not inherit these (each class serves the properties it
  // installs): the subclass's properties are served here, from its table.
  object_class->set_property = vigil_analyser_set_property;
  object_class->get_property = vigil_analyser_get_property;
  g_object_class_install_property(
      object_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval",
                        "Run the detector on every N-th frame, the first included; in between, what the "
                        "element follows is carried forward (an element may run it sooner where something "
                        "changed: facecount with motion-scan)",
                        1, vigil::gst::kMaxAnalyserInterval, default_interval,
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                 GST_PARAM_MUTABLE_PLAYING)));
  if (properties) properties->install(object_class, PROP_FIRST_ELEMENT);
  // Every analyser reads the same raw formats and passes them through as they came.
  vigil::gst::CapsPtr caps(gst_caps_from_string(GST_VIDEO_CAPS_MAKE(VIGIL_ANALYSIS_FORMATS)));
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_pad_template(element_class, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps.get()));
  gst_element_class_add_pad_template(element_class, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps.get()));
}

namespace {

void vigil_analyser_init(GTypeInstance* instance, gpointer klass) {
  VigilAnalyser* self = reinterpret_cast<VigilAnalyser*>(instance);
  self->state = new VigilAnalyserState();
  const guint interval = static_cast<VigilAnalyserClass*>(klass)->default_interval;
  self->state->settings.update([&](Settings& settings) { settings.interval = std::max(1u, interval); });
  // In place so metas can be added; never passthrough, or transform_ip would
  // not run. The frame is mapped READ, so pixels are not copied.
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}

void vigil_analyser_finalize(GObject* object) {
  VigilAnalyser* self = reinterpret_cast<VigilAnalyser*>(object);
  delete self->state;
  self->state = nullptr;
  parentClass()->finalize(object);
}

void vigil_analyser_class_init(gpointer klass, gpointer) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  GstBaseTransformClass* transform_class = GST_BASE_TRANSFORM_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(vigil_analyser_debug, "vigilanalyser", 0, "Vigil analyser base");

  object_class->set_property = vigil_analyser_set_property;
  object_class->get_property = vigil_analyser_get_property;
  object_class->finalize = vigil_analyser_finalize;
  // `interval` and the element's table are installed on each subclass by
  // vigil_analyser_class_install(), with the subclass's default.
  VIGIL_ANALYSER_CLASS(klass)->default_interval = vigil::gst::kDefaultAnalyserInterval;

  transform_class->start = GST_DEBUG_FUNCPTR(vigil_analyser_start);
  transform_class->stop = GST_DEBUG_FUNCPTR(vigil_analyser_stop);
  transform_class->transform_ip = GST_DEBUG_FUNCPTR(vigil_analyser_transform_ip);
  transform_class->transform_ip_on_passthrough = FALSE;
}

}  // namespace
