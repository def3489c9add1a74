#include "vigil/gst/message.hpp"

#include "vigil/gst/ptr.hpp"

namespace vigil::gst {

ErrorText errorText(GstMessage* error_message) {
  GError* raw = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(error_message, &raw, &debug);
  ErrorPtr error(raw);
  CharPtr owned_debug(debug);
  return {error ? error->message : "unknown error", owned_debug ? owned_debug.get() : ""};
}

}  // namespace vigil::gst
