// VigilAnalyser: the base of an element that analyses frames and attaches
// metadata. It owns what every analyser repeats:
//
// - the frame, mapped READ (an analyser must not copy shared pixels; only a
//   redactor, `writes_pixels`, maps WRITE), in place so that metadata can be
//   added, and unmapped whatever happens;
// - the exception guard: a throwing hook becomes GST_ELEMENT_ERROR, never an
//   exception through C;
// - `interval`, the same property with the same meaning on every element: run
//   the detector on every N-th frame, the first included. By default the base
//   schedules it (`analyse` on due frames, `between` on the others); an
//   element that must see every frame (`every_frame`: it follows faces on
//   each, or redacts each) gets `analyse` on each and schedules its detector
//   with vigil_analyser_interval();
// - the element's properties, from its PropertyTable (vigil/gst/properties.hpp):
//   installed, set and read back by the base; a refused value stops start()
//   with an error naming the property;
// - the stream's frame count, reset in start().
//
// A subclass fills the hooks of VigilAnalyserClass in its class_init, calls
// vigil_analyser_class_install() once, and keeps its settings in a
// SharedSettings<T>, copied once at the top of a frame.
//
//   struct MyCounter { VigilAnalyser parent; ... };  struct MyCounterClass { VigilAnalyserClass parent; };
//   G_DEFINE_TYPE(MyCounter, my_counter, VIGIL_TYPE_ANALYSER)
//   static void my_counter_class_init(MyCounterClass* klass) {
//     auto* analyser = VIGIL_ANALYSER_CLASS(klass);
//     analyser->analyse = my_counter_analyse;  // (VigilAnalyser*, GstBuffer*, const GstVideoFrame*)
//     vigil_analyser_class_install(analyser, kDefaultInterval, &properties);
//     ...metadata (the pad templates, VIGIL_ANALYSIS_FORMATS, come with the install)
//   }
#pragma once

#include "vigil/gst/properties.hpp"

#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

#include <cstdint>

G_BEGIN_DECLS

#define VIGIL_TYPE_ANALYSER (vigil_analyser_get_type())
#define VIGIL_ANALYSER(obj) (G_TYPE_CHECK_INSTANCE_CAST((obj), VIGIL_TYPE_ANALYSER, VigilAnalyser))
#define VIGIL_ANALYSER_CLASS(klass) (G_TYPE_CHECK_CLASS_CAST((klass), VIGIL_TYPE_ANALYSER, VigilAnalyserClass))
#define VIGIL_ANALYSER_GET_CLASS(obj) (G_TYPE_INSTANCE_GET_CLASS((obj), VIGIL_TYPE_ANALYSER, VigilAnalyserClass))

struct VigilAnalyserState;

// Declared by hand rather than with G_DECLARE_DERIVABLE_TYPE: the state is a
// field, not GObject private data, so that two copies of this library in one
// process (the plugin and a test binary) can share one registered type.
typedef struct _VigilAnalyser {
  GstVideoFilter parent;
  VigilAnalyserState* state;
} VigilAnalyser;

typedef struct _VigilAnalyserClass {
  GstVideoFilterClass parent_class;

  // Every hook may throw; the base reports the exception as an element error
  // (and, from analyse/between, returns GST_FLOW_ERROR).
  // Stream state on: open models, check settings. FALSE refuses to start
  // (post GST_ELEMENT_ERROR first to say why). May be null.
  gboolean (*start_analysis)(VigilAnalyser* self);
  // Stream state off: forget tracks and models. May be null.
  void (*stop_analysis)(VigilAnalyser* self);
  // A frame due for analysis (every frame with `every_frame`), mapped READ
  // (READ|WRITE with `writes_pixels`); attach metas to `buffer`. Required.
  void (*analyse)(VigilAnalyser* self, GstBuffer* buffer, const GstVideoFrame* frame);
  // A frame between two analysed ones, not mapped. May be null.
  void (*between)(VigilAnalyser* self, GstBuffer* buffer);

  // Set by vigil_analyser_class_install().
  const vigil::gst::ElementProperties* properties;
  guint default_interval;
  // The element sees every frame and schedules its detector itself.
  gboolean every_frame;
  // The element changes pixels (a redactor): frames are mapped READ|WRITE.
  gboolean writes_pixels;

  gpointer padding[4];
} VigilAnalyserClass;

GType vigil_analyser_get_type(void);
// For G_DECLARE_FINAL_TYPE(..., VigilAnalyser) in subclasses.
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VigilAnalyser, gst_object_unref)

// Frames seen since start(), the current one included (1 on the first frame).
guint64 vigil_analyser_frames(VigilAnalyser* self);
// The `interval` property's current value.
guint vigil_analyser_interval(VigilAnalyser* self);

G_END_DECLS

namespace vigil::gst {

inline constexpr guint kDefaultAnalyserInterval = 1;
inline constexpr guint kMaxAnalyserInterval = 1000;

}  // namespace vigil::gst

// Installs `interval` (default `default_interval`: each element's default is
// its own trade-off, the meaning is the same) and the rows of `properties`
// (which must outlive the class: a static). Call once, in class_init.
void vigil_analyser_class_install(VigilAnalyserClass* klass, guint default_interval,
                                  const vigil::gst::ElementProperties* properties);
