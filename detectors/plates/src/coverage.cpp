#include "vigil/plates/coverage.hpp"

#include "vigil/plates/redaction.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

namespace vigil::plates {

PlateCoverage::PlateCoverage(std::unique_ptr<PlateDetector> detector, CoverageOptions options)
    : detector_(std::move(detector)),
      options_(options),
      input_(detector_ ? detector_->input() : InputSpec{}),
      tracker_(tracking::TrackerOptions{0.1f, std::max(0, options.keep_missed_detections), 0.5f}) {
  if (!detector_) throw std::invalid_argument("plate coverage needs a detector");
  options_.interval = std::max(1, options_.interval);
  worker_ = std::thread([this] { workerLoop(); });
}

PlateCoverage::~PlateCoverage() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  job_ready_.notify_all();
  worker_.join();
}

void PlateCoverage::workerLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    job_ready_.wait(lock, [this] { return stopping_ || has_job_; });
    if (stopping_) return;
    has_job_ = false;
    cv::Mat image = std::move(job_image_);
    lock.unlock();
    // The detector runs without the lock: the streaming thread keeps planning.
    std::vector<PlateDetection> found;
    std::string error;
    try {
      found = detector_->detect(image);
    } catch (const std::exception& failure) {
      error = failure.what();
      if (error.empty()) error = "detector failed";
    } catch (...) {
      error = "detector failed with an unknown exception";
    }
    lock.lock();
    result_ = std::move(found);
    result_error_ = std::move(error);
    has_result_ = true;
    busy_ = false;
    result_ready_.notify_all();
  }
}

void PlateCoverage::setSchedule(int interval, float padding, FailMode fail_mode) {
  options_.interval = std::max(1, interval);
  options_.padding = std::max(0.f, padding);
  options_.fail_mode = fail_mode;
}

bool PlateCoverage::wantsDetection(std::int64_t index) {
  if (pending_since_ >= 0) return false;  // one detection in flight at a time
  return last_request_ < 0 || index - last_request_ >= options_.interval;
}

// Takes a finished result (mutex_ held by the caller) into the tracker.
void PlateCoverage::applyResult(std::int64_t now) {
  (void)now;
  has_result_ = false;
  if (!result_error_.empty()) {
    if (failed_since_ < 0) failed_since_ = job_index_;
    pending_since_ = -1;
    return;
  }
  std::vector<tracking::Detection> detections;
  detections.reserve(result_.size());
  for (const auto& found : result_) {
    const cv::Rect2f box(found.box.x * static_cast<float>(job_scale_),
                         found.box.y * static_cast<float>(job_scale_),
                         found.box.width * static_cast<float>(job_scale_),
                         found.box.height * static_cast<float>(job_scale_));
    detections.push_back({box, found.score, {}});
  }
  tracker_.update(detections, job_index_);
  failed_since_ = -1;
  error_reported_ = false;
  has_detected_ = true;
  pending_since_ = -1;
}

CoveragePlan PlateCoverage::plan(std::int64_t index, const cv::Mat& detector_input,
                                 cv::Size frame_size) {
  CoveragePlan plan;
  std::string error;
  bool fresh = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!detector_input.empty() && pending_since_ < 0) {
      job_image_ = detector_input;
      job_index_ = index;
      job_scale_ = static_cast<double>(frame_size.width) / std::max(1, detector_input.cols);
      has_job_ = true;
      busy_ = true;
      pending_since_ = index;
      last_request_ = index;
      job_ready_.notify_one();
    }
    if (pending_since_ >= 0) {
      // The result for this frame (or an earlier one) may still be coming:
      // wait for it only when it is this frame's, and at most the timeout.
      if (pending_since_ == index) {
        result_ready_.wait_for(lock, options_.detect_timeout, [this] { return has_result_; });
      }
      if (has_result_) {
        fresh = pending_since_ == index && result_error_.empty();
        if (!result_error_.empty() && !error_reported_) {
          error = result_error_;
          error_reported_ = true;
        }
        applyResult(index);
      }
    }
  }

  const bool failed = failed_since_ >= 0;
  // Late: this frame's detection (or an earlier one) has not come back in
  // time, so the carried boxes may not cover plates that moved or appeared.
  const bool late = pending_since_ >= 0;
  const std::int64_t overdue = failed ? index - failed_since_ + 1
                               : late ? index - pending_since_ + 1
                                      : 0;
  plan.state = failed  ? CoverageState::Failed
               : late  ? CoverageState::Late
               : fresh ? CoverageState::Fresh
                       : CoverageState::Carried;
  plan.error = std::move(error);
  if ((failed || late) && options_.fail_mode == FailMode::WholeFrame) {
    plan.whole_frame = true;
  }
  // Before the first successful detection nothing is known: cover it all.
  if (!has_detected_ && !fresh) plan.whole_frame = true;

  const cv::Rect frame(0, 0, frame_size.width, frame_size.height);
  const float growth = options_.padding + options_.growth_per_late_frame * static_cast<float>(overdue);
  for (const auto& track : tracker_.predict(index)) {
    const cv::Rect box = padded(track.box, growth, options_.min_padding_pixels) & frame;
    if (box.empty()) continue;
    plan.plates.push_back({box, track.score, track.id});
  }
  return plan;
}

}  // namespace vigil::plates
