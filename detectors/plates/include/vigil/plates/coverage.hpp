// Fail-closed plate coverage for a video stream: decides, for every frame,
// which regions must be redacted, whether or not the detector kept up.
//
//  * A detection is requested every `interval` frames and runs on a worker
//    thread; the streaming thread waits for it at most `detect_timeout`.
//  * Between detections, tracks are carried forward (IouTracker::predict)
//    and padded, and a track survives a few missed detections.
//  * When the detection is late (timeout) or the detector threw, the frame is
//    covered conservatively: the last boxes grown with every frame of delay,
//    or the whole frame (FailMode::WholeFrame). A late result is still used
//    as soon as it arrives. No frame is returned without a plan.
#pragma once

#include "vigil/plates/detector.hpp"
#include "vigil/tracking/iou_tracker.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::plates {

enum class FailMode { GrowBoxes, WholeFrame };

struct CoverageOptions {
  int interval = 3;                 // detect every N frames (1: every frame)
  float padding = 0.15f;            // fraction of the box added on each side
  int min_padding_pixels = 4;
  std::chrono::milliseconds detect_timeout{200};
  FailMode fail_mode = FailMode::GrowBoxes;
  float growth_per_late_frame = 0.1f;  // fraction of the box size per frame of delay
  int keep_missed_detections = 2;   // detections a track survives unmatched
};

struct CoveredPlate {
  cv::Rect box;                 // frame pixels, padded (and grown when degraded), clamped
  float score = 0.f;
  std::int64_t track_id = 0;
};

enum class CoverageState {
  Fresh,     // a detection result for this frame was used
  Carried,   // tracks carried from the last detection, on schedule
  Late,      // the detection is overdue: boxes grown / whole frame
  Failed,    // the last detection threw: boxes grown / whole frame
};

struct CoveragePlan {
  std::vector<CoveredPlate> plates;
  bool whole_frame = false;
  CoverageState state = CoverageState::Carried;
  std::string error;  // Failed: what the detector threw (first time only)
};

class PlateCoverage {
 public:
  PlateCoverage(std::unique_ptr<PlateDetector> detector, CoverageOptions options);
  ~PlateCoverage();
  PlateCoverage(const PlateCoverage&) = delete;
  PlateCoverage& operator=(const PlateCoverage&) = delete;

  // What to prepare for the detector, and whether frame `index` should get a
  // detection (the worker is idle and the interval has elapsed).
  const InputSpec& input() const { return input_; }
  bool wantsDetection(std::int64_t index);

  // Changes the schedule between frames (streaming thread only): interval,
  // padding and fail mode take effect from the next plan().
  void setSchedule(int interval, float padding, FailMode fail_mode);

  // Plans frame `index`. `detector_input` is the prepared image when
  // wantsDetection(index) was true (else empty); `frame_size` is the size of
  // the frame the boxes are for. Indices must increase.
  CoveragePlan plan(std::int64_t index, const cv::Mat& detector_input, cv::Size frame_size);

 private:
  struct Job;
  void workerLoop();
  void applyResult(std::int64_t now);

  std::unique_ptr<PlateDetector> detector_;
  CoverageOptions options_;
  InputSpec input_;
  tracking::IouTracker tracker_;

  // Worker hand-off; everything below mutex_ is shared with the worker.
  std::mutex mutex_;
  std::condition_variable job_ready_;
  std::condition_variable result_ready_;
  bool stopping_ = false;
  bool busy_ = false;
  bool has_job_ = false;
  bool has_result_ = false;
  cv::Mat job_image_;
  std::int64_t job_index_ = 0;
  std::vector<PlateDetection> result_;
  std::string result_error_;
  double job_scale_ = 1.0;  // frame pixels per detector pixel, for the job in flight
  std::thread worker_;

  // Streaming-thread state.
  std::int64_t last_request_ = -1;
  std::int64_t pending_since_ = -1;   // index of the request in flight, -1 none
  std::int64_t failed_since_ = -1;    // first frame after a failure, -1 healthy
  bool error_reported_ = false;
  bool has_detected_ = false;
};

}  // namespace vigil::plates
