// Making and configuring GStreamer elements by name, for the recipes that
// build the source and analytics pipelines.
#pragma once

#include "vigil/gst/ptr.hpp"

#include <gst/gst.h>

#include <string>

namespace vigil::pipeline {

// A new element from `factory`; throws std::runtime_error saying which
// plugin is missing when the factory is unknown.
gst::ElementPtr makeElement(const char* factory, const char* name = nullptr);

// Sets a property from text using the property's own type (enums by nick),
// so configs never carry magic numbers. Throws std::runtime_error naming the
// property or the value that does not fit.
void setPropertyFromText(GstElement* element, const std::string& property, const std::string& value);

}  // namespace vigil::pipeline
