// The image API's work behind HTTP: a bounded queue of images served by a
// fixed set of workers, each image through StillAnalyser (the video path's
// elements), and batches with an id, progress, results kept for a TTL and an
// optional webhook.
//
// The queue counts images, not requests: a batch of 50 takes 50 places. When
// an image does not fit, the request is refused at once (QueueFull -> 429)
// instead of queueing without bound.
#pragma once

#include "config.hpp"
#include "still_analyser.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vigil::pipeline {

class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NamedImage {
  std::string name;   // file name from the upload, or "image-N"
  std::string bytes;  // encoded JPEG, PNG or WebP
};

class ImageService {
 public:
  // Starts the workers and the first pipelines. Throws on a bad analytics
  // option or a missing model.
  explicit ImageService(ImagesConfig config);
  ~ImageService();
  ImageService(const ImageService&) = delete;
  ImageService& operator=(const ImageService&) = delete;

  const ImagesConfig& config() const;

  // The analytics a request may ask for: null or empty `names` = all
  // configured; otherwise a comma list, each configured. Throws
  // std::invalid_argument naming the first that is not.
  std::vector<std::string> chooseAnalytics(const std::string& names) const;

  // One image, synchronously (waits its turn in the queue). The report holds
  // only `analytics`; with `redacted`, the redacted pixels too.
  // Throws QueueFull, ImageError, std::runtime_error.
  StillResult analyse(std::string bytes, const std::vector<std::string>& analytics, bool redacted);

  // Queues a batch; returns its id. `format` set: redacted images are kept
  // for download. Throws QueueFull, std::invalid_argument (size).
  std::string submitBatch(std::vector<NamedImage> images, const std::vector<std::string>& analytics,
                          std::optional<StillFormat> format);
  // Status, progress and per-image results; nullopt when unknown or expired.
  std::optional<nlohmann::json> batchStatus(const std::string& id);
  // A redacted image of a batch (bytes, MIME type); nullopt when there is none.
  std::optional<std::pair<std::vector<unsigned char>, std::string>> batchImage(const std::string& id,
                                                                              std::size_t index);

  // Images queued or in work now (for /health).
  std::size_t pending() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::pipeline
