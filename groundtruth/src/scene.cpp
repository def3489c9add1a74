#include "vigil/groundtruth/scene.hpp"

#include <opencv2/imgproc.hpp>

#include <random>

namespace vigil::groundtruth {

cv::Point2f Path::at(std::int64_t frame) const {
  if (end <= start + 1) return from;
  const float t = static_cast<float>(frame - start) / static_cast<float>(end - start - 1);
  return from + (to - from) * std::clamp(t, 0.f, 1.f);
}

cv::Mat makeBackground(cv::Size size, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> channel(40, 200);
  cv::Mat background(size, CV_8UC3);
  // Vertical gradient between two random colours: a wall and a floor.
  const cv::Vec3f top(channel(random), channel(random), channel(random));
  const cv::Vec3f bottom(channel(random), channel(random), channel(random));
  for (int y = 0; y < size.height; ++y) {
    const float t = static_cast<float>(y) / std::max(1, size.height - 1);
    const cv::Vec3f colour = top * (1.f - t) + bottom * t;
    background.row(y).setTo(cv::Scalar(colour[0], colour[1], colour[2]));
  }
  // Shelves and boxes: edges and corners for detectors to ignore.
  std::uniform_int_distribution<int> x_of(0, size.width - 1);
  std::uniform_int_distribution<int> y_of(0, size.height - 1);
  std::uniform_int_distribution<int> extent(size.width / 40 + 4, size.width / 6 + 8);
  for (int i = 0; i < 25; ++i) {
    const cv::Point corner(x_of(random), y_of(random));
    const cv::Rect box(corner, cv::Size(extent(random), extent(random) / 2 + 2));
    cv::rectangle(background, box, cv::Scalar(channel(random), channel(random), channel(random)),
                  cv::FILLED);
    cv::rectangle(background, box, cv::Scalar(20, 20, 20), 1);
  }
  cv::Mat noise(size, CV_8UC3);
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(6));
  cv::Mat noisy;
  cv::add(background, noise, noisy, cv::noArray(), CV_8UC3);
  return noisy;
}

Scene::Scene(cv::Size size, double fps, std::uint32_t seed)
    : size_(size), fps_(fps), seed_(seed), background_(makeBackground(size, seed)) {}

void Scene::add(std::unique_ptr<Layer> layer) { layers_.push_back(std::move(layer)); }

cv::Mat Scene::render(std::int64_t frame, FrameTruth& truth) const {
  cv::Mat image = background_.clone();
  truth.frame = frame;
  truth.objects.clear();
  for (const auto& layer : layers_) layer->render(image, frame, truth.objects);
  return image;
}

}  // namespace vigil::groundtruth
