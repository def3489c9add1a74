// Exceptions stop at the GObject boundary: every vfunc body that may throw runs
// through guarded(), which turns the exception into GST_ELEMENT_ERROR.
#pragma once

#include <gst/gst.h>

#include <exception>
#include <utility>

namespace vigil::gst {

template <typename Fn, typename Result>
Result guarded(GstElement* element, const char* what, Result on_error, Fn&& body) noexcept {
  try {
    return std::forward<Fn>(body)();
  } catch (const std::exception& error) {
    GST_ELEMENT_ERROR(element, LIBRARY, FAILED, ("%s failed: %s", what, error.what()),
                      ("exception caught at the element boundary"));
  } catch (...) {
    GST_ELEMENT_ERROR(element, LIBRARY, FAILED, ("%s failed", what),
                      ("unknown exception caught at the element boundary"));
  }
  return on_error;
}

}  // namespace vigil::gst
