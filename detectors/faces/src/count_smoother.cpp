#include "vigil/faces/count_smoother.hpp"

#include <algorithm>
#include <vector>

namespace vigil::faces {

CountSmoother::CountSmoother(std::size_t window) : window_(std::max<std::size_t>(1, window)) {}

int CountSmoother::push(int count) {
  samples_.push_back(count);
  while (samples_.size() > window_) samples_.pop_front();
  std::vector<int> sorted(samples_.begin(), samples_.end());
  const auto middle = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
  std::nth_element(sorted.begin(), middle, sorted.end());
  return *middle;
}

}  // namespace vigil::faces
