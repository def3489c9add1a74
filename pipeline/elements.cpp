#include "elements.hpp"

#include <stdexcept>

namespace vigil::pipeline {

gst::ElementPtr makeElement(const char* factory, const char* name) {
  GstElement* element = gst_element_factory_make(factory, name);
  if (!element) {
    throw std::runtime_error(std::string("GStreamer element '") + factory +
                             "' is not available (is its plugin installed? for Vigil's own elements, is "
                             "libgstvigil.so on GST_PLUGIN_PATH?)");
  }
  return gst::adoptFloating(element);
}

void setPropertyFromText(GstElement* element, const std::string& property, const std::string& value) {
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), property.c_str());
  if (!spec) throw std::runtime_error("element has no property '" + property + "'");
  GValue parsed = G_VALUE_INIT;
  g_value_init(&parsed, spec->value_type);
  if (!gst_value_deserialize(&parsed, value.c_str())) {
    g_value_unset(&parsed);
    throw std::runtime_error("'" + value + "' is not a valid value for '" + property + "'");
  }
  g_object_set_property(G_OBJECT(element), property.c_str(), &parsed);
  g_value_unset(&parsed);
}

}  // namespace vigil::pipeline
