#include "vigil/groundtruth/clip.hpp"

#include "vigil/gst/message.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace vigil::groundtruth {

namespace {

std::string pipelineError(GstElement* pipeline) {
  gst::BusPtr bus(gst_element_get_bus(pipeline));
  gst::MessagePtr message(gst_bus_timed_pop_filtered(
      bus.get(), 60 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
  if (!message) return "timed out waiting for the encoder";
  if (GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_EOS) return "";
  return gst::errorText(message.get()).message;
}

}  // namespace

void writeClip(const Scene& scene, const std::string& path, const ClipOptions& options,
               const std::string& truth_path) {
  const cv::Size size = scene.size();
  const int fps_n = static_cast<int>(scene.fps() * 1000);
  gst::CharPtr description(g_strdup_printf(
      "appsrc name=frames format=time is-live=false block=true "
      "caps=video/x-raw,format=BGR,width=%d,height=%d,framerate=%d/1000 "
      "! videoconvert ! video/x-raw,format=I420 "
      "! x264enc speed-preset=veryfast tune=zerolatency bitrate=%d key-int-max=%d "
      "! h264parse ! matroskamux ! filesink location=\"%s\"",
      size.width, size.height, fps_n, options.bitrate_kbps, options.keyframe_interval,
      path.c_str()));
  GError* raw_error = nullptr;
  gst::ElementPtr pipeline(gst_parse_launch(description.get(), &raw_error));
  gst::ErrorPtr parse_error(raw_error);
  if (!pipeline || parse_error) {
    throw std::runtime_error(std::string("cannot build the clip encoder: ") +
                             (parse_error ? parse_error->message : "unknown"));
  }
  gst::ElementPtr source(gst_bin_get_by_name(GST_BIN(pipeline.get()), "frames"));
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);

  std::vector<FrameTruth> truth;
  truth.reserve(static_cast<std::size_t>(options.frames));
  const GstClockTime frame_duration = gst_util_uint64_scale(GST_SECOND, 1000, fps_n);
  for (std::int64_t frame = 0; frame < options.frames; ++frame) {
    FrameTruth frame_truth;
    cv::Mat image = scene.render(frame, frame_truth);
    truth.push_back(std::move(frame_truth));
    const gsize bytes = image.total() * image.elemSize();
    GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
    gst_buffer_fill(buffer, 0, image.data, bytes);
    GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(frame) * frame_duration;
    GST_BUFFER_DURATION(buffer) = frame_duration;
    if (gst_app_src_push_buffer(GST_APP_SRC(source.get()), buffer) != GST_FLOW_OK) break;
  }
  gst_app_src_end_of_stream(GST_APP_SRC(source.get()));
  const std::string error = pipelineError(pipeline.get());
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  if (!error.empty()) throw std::runtime_error("clip encoder failed: " + error);
  if (!truth_path.empty()) writeTruth(truth, truth_path);
}

void writeTruth(const std::vector<FrameTruth>& truth, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write ground truth to " + path);
  for (const auto& frame : truth) {
    nlohmann::json objects = nlohmann::json::array();
    for (const auto& object : frame.objects) {
      objects.push_back({{"kind", object.kind},
                         {"id", object.id},
                         {"box", {object.box.x, object.box.y, object.box.width, object.box.height}},
                         {"text", object.text},
                         {"format", object.format},
                         {"occluded", object.occluded}});
    }
    out << nlohmann::json{{"frame", frame.frame}, {"objects", objects}}.dump() << '\n';
  }
}

std::vector<FrameTruth> readTruth(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read ground truth from " + path);
  std::vector<FrameTruth> truth;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto json = nlohmann::json::parse(line);
    FrameTruth frame;
    frame.frame = json.at("frame").get<std::int64_t>();
    for (const auto& object : json.at("objects")) {
      TruthObject parsed;
      parsed.kind = object.at("kind").get<std::string>();
      parsed.id = object.at("id").get<std::int64_t>();
      const auto& box = object.at("box");
      parsed.box = cv::Rect(box.at(0).get<int>(), box.at(1).get<int>(), box.at(2).get<int>(),
                            box.at(3).get<int>());
      parsed.text = object.value("text", "");
      parsed.format = object.value("format", "");
      parsed.occluded = object.value("occluded", false);
      frame.objects.push_back(std::move(parsed));
    }
    truth.push_back(std::move(frame));
  }
  return truth;
}

}  // namespace vigil::groundtruth
