// RAII for GStreamer and GLib references: one alias per kind, stateless deleters.
// Ownership transfers stay visible: `.release()` where GStreamer takes a reference.
#pragma once

#include <gst/gst.h>

#include <memory>

namespace vigil::gst {

struct ObjectUnref {
  void operator()(gpointer object) const {
    if (object) gst_object_unref(object);
  }
};
struct GObjectUnref {
  void operator()(gpointer object) const {
    if (object) g_object_unref(object);
  }
};
struct MiniObjectUnref {
  void operator()(gpointer object) const {
    if (object) gst_mini_object_unref(GST_MINI_OBJECT_CAST(object));
  }
};
struct StructureFree {
  void operator()(GstStructure* structure) const {
    if (structure) gst_structure_free(structure);
  }
};
struct ErrorFree {
  void operator()(GError* error) const {
    if (error) g_error_free(error);
  }
};
struct GFree {
  void operator()(gpointer memory) const { g_free(memory); }
};
struct IteratorFree {
  void operator()(GstIterator* iterator) const {
    if (iterator) gst_iterator_free(iterator);
  }
};
struct MainLoopUnref {
  void operator()(GMainLoop* loop) const {
    if (loop) g_main_loop_unref(loop);
  }
};

template <typename T>
using ObjectPtr = std::unique_ptr<T, ObjectUnref>;
template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

using ElementPtr = ObjectPtr<GstElement>;
using PadPtr = ObjectPtr<GstPad>;
using BusPtr = ObjectPtr<GstBus>;
using ClockPtr = ObjectPtr<GstClock>;
using BufferPtr = std::unique_ptr<GstBuffer, MiniObjectUnref>;
using CapsPtr = std::unique_ptr<GstCaps, MiniObjectUnref>;
using MessagePtr = std::unique_ptr<GstMessage, MiniObjectUnref>;
using SamplePtr = std::unique_ptr<GstSample, MiniObjectUnref>;
using EventPtr = std::unique_ptr<GstEvent, MiniObjectUnref>;
using StructurePtr = std::unique_ptr<GstStructure, StructureFree>;
using ErrorPtr = std::unique_ptr<GError, ErrorFree>;
using CharPtr = std::unique_ptr<gchar, GFree>;
using MainLoopPtr = std::unique_ptr<GMainLoop, MainLoopUnref>;
using IteratorPtr = std::unique_ptr<GstIterator, IteratorFree>;

// Takes a floating reference (fresh from gst_element_factory_make and friends)
// so that the pointer owns it; a no-op on non-floating objects.
template <typename T>
ObjectPtr<T> adoptFloating(T* object) {
  if (object) gst_object_ref_sink(object);
  return ObjectPtr<T>(object);
}

}  // namespace vigil::gst
