// Loaded models kept for the next detector of the same model. A detector is
// made per stream (an element's start()), and the image API starts one
// stream per still: without the pool each still would parse the ONNX file and
// both Haar cascades again and warm a fresh network, which costs more than
// analysing the picture. A model is leased to one detector at a time (OpenCV
// networks and cascades are not safe to share between threads) and returns
// to the pool when the detector goes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vigil::faces::detail {

template <typename Model>
class ModelPool {
 public:
  // Idle models kept per key; more are freed when they come back.
  static constexpr std::size_t kMaxIdle = 8;

  // The process-wide pool for this kind of model; never destroyed, so leases
  // held by objects that outlive main() can still come back.
  static ModelPool& shared() {
    static ModelPool* pool = new ModelPool();
    return *pool;
  }

  // An idle model loaded for `key`, else `load()` (which may throw). The
  // model is this lease's alone until the returned pointer is released.
  std::shared_ptr<Model> acquire(const std::string& key, const std::function<std::unique_ptr<Model>()>& load) {
    std::unique_ptr<Model> model;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& idle = idle_[key];
      if (!idle.empty()) {
        model = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (!model) model = load();
    return std::shared_ptr<Model>(model.release(), [this, key](Model* returned) {
      std::unique_ptr<Model> owned(returned);
      std::lock_guard<std::mutex> lock(mutex_);
      auto& idle = idle_[key];
      if (idle.size() < kMaxIdle) idle.push_back(std::move(owned));
    });
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<Model>>> idle_;
};

}  // namespace vigil::faces::detail
