// Smooths a per-frame count over the last few analysed frames, so one missed
// (or one spurious) detection does not make the reported count flicker.
#pragma once

#include <cstddef>
#include <deque>

namespace vigil::faces {

class CountSmoother {
 public:
  // window 1 passes counts through unchanged.
  explicit CountSmoother(std::size_t window = 1);

  // Adds the newest count and returns the median of the window (the upper
  // median for an even number of samples, so a face that just arrived counts
  // as soon as half the window has seen it).
  int push(int count);
  void reset() { samples_.clear(); }
  std::size_t window() const { return window_; }

 private:
  std::size_t window_;
  std::deque<int> samples_;
};

}  // namespace vigil::faces
