// Runs a decode + analysis pipeline over a generated clip and collects, per
// frame, the face regions and the count, with the process CPU time it took.
// Shared by the accuracy test and the bench so that both measure the same way.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::groundtruth {

struct FaceFrameResult {
  std::vector<cv::Rect2f> boxes;  // ROI metas of type "face"
  int count = -1;                 // the `faces` analysis count, or -1 if none
  bool published = false;         // the analysis' publish flag
};

// Throughput is measured in the steady state, from the first frame out to
// the last: start-up (loading a model, building the pipeline) happens once
// per stream and is reported on its own.
struct FaceRunStats {
  std::int64_t frames = 0;        // frames out
  double startup_seconds = 0.0;   // from PLAYING to the first frame out
  double wall_seconds = 0.0;      // after the first frame out
  double cpu_seconds = 0.0;       // user + system time of the whole process, after the first frame out
  std::int64_t scans = -1;        // facecount's detector passes (its `stats`), -1 without facecount
  double fps() const { return wall_seconds > 0 && frames > 1 ? (frames - 1) / wall_seconds : 0.0; }
  double cpuMsPerFrame() const { return frames > 1 ? 1000.0 * cpu_seconds / (frames - 1) : 0.0; }
};

// Runs "filesrc ! matroskademux ! h264parse ! avdec_h264 ! queue ! <analysis> !
// appsink" as fast as it goes; `analysis` is a gst-launch fragment (empty:
// decode only). The queue puts decoding and analysis on their own threads, as
// the vigil runner does (its source and analytics pipelines meet at an
// appsrc). Throws std::runtime_error with the pipeline's error message.
std::vector<FaceFrameResult> runFaceAnalysis(const std::string& clip_path,
                                             const std::string& analysis, FaceRunStats* stats = nullptr);

}  // namespace vigil::groundtruth
