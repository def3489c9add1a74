// The `vigil` GStreamer plugin: registration only. Each element lives in its
// own file and is useful alone in a gst-launch-1.0 line.
#include <gst/gst.h>

#include "vigil/gst/meta.hpp"

GST_ELEMENT_REGISTER_DECLARE(eventpublish);
GST_ELEMENT_REGISTER_DECLARE(facecount);
GST_ELEMENT_REGISTER_DECLARE(plateblur);
GST_ELEMENT_REGISTER_DECLARE(codereader);

static gboolean plugin_init(GstPlugin* plugin) {
  vigil::gst::registerAnalysisMeta();
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(eventpublish, plugin);
  ok |= GST_ELEMENT_REGISTER(facecount, plugin);
  ok |= GST_ELEMENT_REGISTER(plateblur, plugin);
  ok |= GST_ELEMENT_REGISTER(codereader, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, vigil,
                  "Vigil real-time video analytics: face counting, plate anonymization, "
                  "code reading, and event publishing on ZeroMQ",
                  plugin_init, VERSION, "MIT/X11", "vigil", "Vigil project")
