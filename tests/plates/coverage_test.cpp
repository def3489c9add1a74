// Fail-closed coverage: with a detector that is fine, late (held on a gate
// the test opens) or throwing, every frame gets a plan that covers the plate.
#include "vigil/plates/coverage.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace {

using vigil::plates::CoverageState;

const cv::Size kFrame(640, 360);
const cv::Rect2f kPlate(300, 200, 80, 20);

// Scriptable detector: returns kPlate; can be made to block until released
// (a detector that falls behind) or to throw.
struct Script {
  std::mutex mutex;
  std::condition_variable changed;
  bool hold = false;
  bool fail = false;
  int calls = 0;
};

class ScriptedDetector final : public vigil::plates::PlateDetector {
 public:
  explicit ScriptedDetector(Script& script) : script_(script) {}
  vigil::plates::InputSpec input() const override { return {false, 0}; }
  std::string name() const override { return "scripted"; }
  std::vector<vigil::plates::PlateDetection> detect(const cv::Mat&) override {
    std::unique_lock<std::mutex> lock(script_.mutex);
    ++script_.calls;
    script_.changed.notify_all();
    script_.changed.wait(lock, [this] { return !script_.hold; });
    if (script_.fail) throw std::runtime_error("scripted failure");
    return {{kPlate, 0.9f}};
  }

 private:
  Script& script_;
};

bool covered(const vigil::plates::CoveragePlan& plan, const cv::Rect2f& plate) {
  if (plan.whole_frame) return true;
  for (const auto& p : plan.plates) {
    if ((cv::Rect2f(p.box) & plate).area() >= plate.area() - 1e-3f) return true;
  }
  return false;
}

vigil::plates::CoverageOptions options(std::chrono::milliseconds timeout, vigil::plates::FailMode mode) {
  vigil::plates::CoverageOptions o;
  o.interval = 3;
  o.detect_timeout = timeout;
  o.fail_mode = mode;
  return o;
}

cv::Mat input() { return cv::Mat(kFrame, CV_8UC1, cv::Scalar(0)); }

// Plans one frame, handing the detector an image when it asks for one.
vigil::plates::CoveragePlan step(vigil::plates::PlateCoverage& coverage, std::int64_t index) {
  return coverage.plan(index, coverage.wantsDetection(index) ? input() : cv::Mat(), kFrame);
}

TEST(PlateCoverage, FreshThenCarriedOnSchedule) {
  Script script;
  vigil::plates::PlateCoverage coverage(std::make_unique<ScriptedDetector>(script),
                                        options(std::chrono::seconds(10), vigil::plates::FailMode::GrowBoxes));
  for (int index = 0; index < 9; ++index) {
    const auto plan = step(coverage, index);
    EXPECT_EQ(plan.state, index % 3 == 0 ? CoverageState::Fresh : CoverageState::Carried) << "frame " << index;
    EXPECT_FALSE(plan.whole_frame);
    ASSERT_EQ(plan.plates.size(), 1u);
    EXPECT_TRUE(covered(plan, kPlate)) << "frame " << index;
    // Padded: strictly larger than the plate.
    EXPECT_GT(plan.plates[0].box.area(), kPlate.area());
  }
  EXPECT_EQ(script.calls, 3);
}

TEST(PlateCoverage, FirstFrameWithoutResultIsWholeFrame) {
  Script script;
  script.hold = true;
  vigil::plates::PlateCoverage coverage(std::make_unique<ScriptedDetector>(script),
                                        options(std::chrono::milliseconds(0), vigil::plates::FailMode::GrowBoxes));
  const auto plan = step(coverage, 0);
  EXPECT_TRUE(plan.whole_frame) << "nothing known yet: the whole frame must be covered";
  EXPECT_EQ(plan.state, CoverageState::Late);
  {
    std::lock_guard<std::mutex> lock(script.mutex);
    script.hold = false;
  }
  script.changed.notify_all();
}

TEST(PlateCoverage, LateDetectionGrowsLastBoxes) {
  Script script;
  vigil::plates::PlateCoverage coverage(std::make_unique<ScriptedDetector>(script),
                                        options(std::chrono::milliseconds(0), vigil::plates::FailMode::GrowBoxes));
  // Frame 0: let the first detection finish (the plan waits 0 ms, so wait on
  // the script here, then plan frame 1 which picks the result up).
  step(coverage, 0);
  {
    std::unique_lock<std::mutex> lock(script.mutex);
    script.changed.wait(lock, [&] { return script.calls == 1; });
  }
  // The worker may still be returning; frames until the result is in are
  // whole-frame (nothing known yet) — always covered.
  std::int64_t index = 1;
  for (;; ++index) {  // ends when the worker has handed its result over
    const auto plan = step(coverage, index);
    ASSERT_TRUE(covered(plan, kPlate));
    if (!plan.whole_frame) break;
  }
  // Now hold the detector: the next requested detection falls behind.
  {
    std::lock_guard<std::mutex> lock(script.mutex);
    script.hold = true;
  }
  std::int64_t previous_area = 0;
  int late_frames = 0;
  for (++index; late_frames < 6; ++index) {
    const auto plan = step(coverage, index);
    ASSERT_TRUE(covered(plan, kPlate)) << "frame " << index << " left the plate uncovered";
    if (plan.state == CoverageState::Late) {
      ++late_frames;
      ASSERT_EQ(plan.plates.size(), 1u);
      const std::int64_t area = plan.plates[0].box.area();
      EXPECT_GT(area, previous_area) << "late boxes must keep growing";
      previous_area = area;
    }
  }
  {
    std::lock_guard<std::mutex> lock(script.mutex);
    script.hold = false;
  }
  script.changed.notify_all();
}

TEST(PlateCoverage, LateDetectionWholeFrameMode) {
  Script script;
  script.hold = true;
  vigil::plates::PlateCoverage coverage(std::make_unique<ScriptedDetector>(script),
                                        options(std::chrono::milliseconds(5), vigil::plates::FailMode::WholeFrame));
  for (int index = 0; index < 5; ++index) {
    const auto plan = step(coverage, index);
    EXPECT_TRUE(plan.whole_frame);
    EXPECT_EQ(plan.state, CoverageState::Late);
  }
  {
    std::lock_guard<std::mutex> lock(script.mutex);
    script.hold = false;
  }
  script.changed.notify_all();
}

TEST(PlateCoverage, ThrowingDetectorFailsClosed) {
  Script script;
  vigil::plates::PlateCoverage coverage(std::make_unique<ScriptedDetector>(script),
                                        options(std::chrono::seconds(10), vigil::plates::FailMode::GrowBoxes));
  for (int index = 0; index < 3; ++index) ASSERT_TRUE(covered(step(coverage, index), kPlate));
  {
    std::lock_guard<std::mutex> lock(script.mutex);
    script.fail = true;
  }
  bool reported = false;
  for (int index = 3; index < 12; ++index) {
    const auto plan = step(coverage, index);
    EXPECT_EQ(plan.state, CoverageState::Failed) << "frame " << index;
    EXPECT_TRUE(covered(plan, kPlate)) << "frame " << index;
    if (!plan.error.empty()) {
      EXPECT_FALSE(reported) << "the error is reported once per failure streak";
      reported = true;
      EXPECT_NE(plan.error.find("scripted failure"), std::string::npos);
    }
  }
  EXPECT_TRUE(reported);
}

TEST(PlateCoverage, ThrowingFromTheStartIsWholeFrame) {
  Script script;
  script.fail = true;
  vigil::plates::PlateCoverage coverage(std::make_unique<ScriptedDetector>(script),
                                        options(std::chrono::seconds(10), vigil::plates::FailMode::GrowBoxes));
  for (int index = 0; index < 4; ++index) {
    const auto plan = step(coverage, index);
    EXPECT_TRUE(plan.whole_frame) << "frame " << index;
  }
}

}  // namespace
