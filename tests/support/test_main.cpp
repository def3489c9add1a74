// Shared main for every Vigil test binary: GStreamer initialised once, and any
// g_warning / g_critical turned into a test failure, as gst-check does.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cstring>

namespace {

void failOnWarnings(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  const bool fatal = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0;
  g_log_default_handler(domain, level, message, nullptr);
  if (fatal) {
    ADD_FAILURE() << "GLib " << (domain ? domain : "") << " warning/critical: " << message;
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  gst_init(&argc, &argv);
  g_log_set_default_handler(failOnWarnings, nullptr);
  for (const char* domain : {"GLib", "GLib-GObject", "GStreamer", "GStreamer-Video"}) {
    g_log_set_handler(domain,
                      static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL |
                                                  G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION),
                      failOnWarnings, nullptr);
  }
  const int result = RUN_ALL_TESTS();
  // gst_deinit() waits for every GStreamer thread, including a source teardown
  // that rtspsrc left hanging (see pipeline/source_session.cpp); only the
  // leak-checking runs (GST_TRACERS=leaks) need it, and they avoid RTSP.
  if (g_getenv("GST_TRACERS")) gst_deinit();
  return result;
}
