// Bus messages as text, for logs, status details and exceptions.
#pragma once

#include <gst/gst.h>

#include <string>

namespace vigil::gst {

// What an ERROR message says, and GStreamer's debug detail (may be empty).
struct ErrorText {
  std::string message;
  std::string debug;
  // "message (debug)", or just the message when there is no detail.
  std::string full() const { return debug.empty() ? message : message + " (" + debug + ")"; }
};

ErrorText errorText(GstMessage* error_message);

}  // namespace vigil::gst
