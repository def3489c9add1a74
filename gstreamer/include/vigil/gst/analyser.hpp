// VigilAnalyser: the base of an element that analyses frames and attaches
// metadata, never changing a pixel. It owns what every analyser repeats:
//
// - the frame, mapped READ (an analyser must not copy shared pixels), in
//   place so that metadata can be added, and unmapped whatever happens;
// - the exception guard: a throwing hook becomes GST_ELEMENT_ERROR, never an
//   exception through C;
// - `interval`: analyse every N-th frame (the first included); the others go
//   to `between` (e.g. carry boxes forward) or pass untouched;
// - the stream's frame count, reset in start().
//
// A subclass fills the hooks of VigilAnalyserClass in its class_init and keeps
// its own settings in a SharedSettings<T>, copied once at the top of a frame.
//
//   struct MyCounter { VigilAnalyser parent; ... };  struct MyCounterClass { VigilAnalyserClass parent; };
//   G_DEFINE_TYPE(MyCounter, my_counter, VIGIL_TYPE_ANALYSER)
//   static void my_counter_class_init(MyCounterClass* klass) {
//     auto* analyser = VIGIL_ANALYSER_CLASS(klass);
//     analyser->analyse = my_counter_analyse;  // (VigilAnalyser*, GstBuffer*, const GstVideoFrame*)
//     ...pad templates (VIGIL_ANALYSIS_FORMATS), metadata, own properties
//   }
#pragma once

#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

#include <cstdint>
#include <mutex>
#include <utility>

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
  // A frame due for analysis, mapped READ; attach metas to `buffer`. Required.
  void (*analyse)(VigilAnalyser* self, GstBuffer* buffer, const GstVideoFrame* frame);
  // A frame between two analysed ones, not mapped. May be null.
  void (*between)(VigilAnalyser* self, GstBuffer* buffer);

  gpointer padding[8];
} VigilAnalyserClass;

GType vigil_analyser_get_type(void);
// For G_DECLARE_FINAL_TYPE(..., VigilAnalyser) in subclasses.
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VigilAnalyser, gst_object_unref)

// Frames seen since start(), the current one included (1 on the first frame).
guint64 vigil_analyser_frames(VigilAnalyser* self);

G_END_DECLS

namespace vigil::gst {

inline constexpr guint kDefaultAnalyserInterval = 1;
inline constexpr guint kMaxAnalyserInterval = 1000;

// Settings written by property setters (any thread) and read by the streaming
// thread: one copy per frame, so no lock is held across per-frame work.
template <typename T>
class SharedSettings {
 public:
  T copy() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
  }
  template <typename Fn>
  auto update(Fn&& change) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::forward<Fn>(change)(value_);
  }

 private:
  mutable std::mutex mutex_;
  T value_{};
};

}  // namespace vigil::gst
