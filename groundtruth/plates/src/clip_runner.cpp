#include "vigil/groundtruth/plates.hpp"

#include "vigil/gst/frame.hpp"
#include "vigil/gst/message.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <stdexcept>

namespace vigil::groundtruth {

namespace {
constexpr GstClockTime kPullTimeout = 30 * GST_SECOND;
}

void runClip(const std::string& path, const std::string& filter,
             const std::function<void(std::int64_t, const cv::Mat&, GstBuffer*)>& on_frame) {
  gst::CharPtr location(g_strescape(path.c_str(), nullptr));
  const std::string description =
      "filesrc location=\"" + std::string(location.get()) +
      "\" ! matroskademux ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! " +
      (filter.empty() ? std::string() : filter + " ! videoconvert ! video/x-raw,format=I420 ! ") +
      "appsink name=out sync=false";
  GError* raw_error = nullptr;
  gst::ElementPtr pipeline(gst_parse_launch(description.c_str(), &raw_error));
  gst::ErrorPtr error(raw_error);
  if (!pipeline || error) {
    throw std::runtime_error("cannot build the clip reader: " + std::string(error ? error->message : "unknown"));
  }
  gst::ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "out"));
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    throw std::runtime_error("clip reader failed to start (" + filter + ")");
  }
  std::int64_t index = 0;
  std::string failure;
  for (;;) {
    gst::SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink.get()), kPullTimeout));
    if (!sample) break;  // EOS, error or timeout: told apart on the bus below
    GstVideoInfo info;
    if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample.get()))) {
      failure = "clip reader: no video caps";
      break;
    }
    GstBuffer* buffer = gst_sample_get_buffer(sample.get());
    GstVideoFrame frame;
    if (!gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ)) {
      failure = "clip reader: cannot map a frame";
      break;
    }
    try {
      on_frame(index++, gst::planeView(&frame, 0), buffer);
    } catch (...) {
      gst_video_frame_unmap(&frame);
      gst_element_set_state(pipeline.get(), GST_STATE_NULL);
      throw;
    }
    gst_video_frame_unmap(&frame);
  }
  gst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  gst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
  if (message && failure.empty()) {
    failure = "clip reader failed: " + gst::errorText(message.get()).message;
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  if (!failure.empty()) throw std::runtime_error(failure);
  if (index == 0) throw std::runtime_error("clip reader produced no frames from " + path);
}

}  // namespace vigil::groundtruth
