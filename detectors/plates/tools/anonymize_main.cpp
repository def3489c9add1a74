// vigil-anonymize: anonymizes licence plates in a batch of image files.
//
//   vigil-anonymize -o out/ --mode pixelate photos/*.jpg
//   vigil-anonymize -o out/ --mode image --image stub.png photos/
//
// Each input (a file, or every image in a directory) is written under the
// output directory with the same name. Plate text is never read or printed.
#include "vigil/plates/anonymize.hpp"

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

bool isImageFile(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* known : {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}) {
    if (extension == known) return true;
  }
  return false;
}

std::vector<fs::path> expandInputs(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const auto& input : inputs) {
    const fs::path path(input);
    if (fs::is_directory(path)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file() && isImageFile(entry.path())) found.push_back(entry.path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path);
    }
  }
  return files;
}

// "#rrggbb" or "rrggbb" -> BGR scalar.
cv::Scalar parseColour(const std::string& text) {
  const std::string hex = !text.empty() && text[0] == '#' ? text.substr(1) : text;
  if (hex.size() != 6 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    throw CLI::ValidationError("--fill-colour", "expected #rrggbb, got '" + text + "'");
  }
  const unsigned long rgb = std::stoul(hex, nullptr, 16);
  return cv::Scalar(rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Anonymize licence plates in image files (Vigil batch mode)"};
  std::vector<std::string> inputs;
  std::string output_dir;
  std::string mode = "blur";
  std::string image_path;
  std::string fill_colour = "#000000";
  std::string backend = vigil::plates::kDefaultBackend;
  std::string model_path;
  float score_threshold = -1.f;
  float padding = 0.15f;
  app.add_option("inputs", inputs, "image files or directories")->required();
  app.add_option("-o,--output-dir", output_dir, "where the anonymized images are written")->required();
  app.add_option("-m,--mode", mode, "redaction: blur, pixelate, fill or image")
      ->check(CLI::IsMember({"blur", "pixelate", "fill", "image"}));
  app.add_option("--image", image_path, "picture scaled onto each plate (mode image)");
  app.add_option("--fill-colour", fill_colour, "colour for mode fill, #rrggbb");
  app.add_option("-b,--backend", backend, "plate detector: edges, haar or onnx")
      ->check(CLI::IsMember(vigil::plates::backendNames()));
  app.add_option("--model", model_path, "model file (onnx: required; haar: cascade XML)");
  app.add_option("--score-threshold", score_threshold, "least detection score (default: backend's)");
  app.add_option("--padding", padding, "fraction of the plate box added on each side")
      ->check(CLI::Range(0.f, 2.f));
  CLI11_PARSE(app, argc, argv);

  try {
    vigil::plates::RedactionStyle style;
    style.mode = vigil::plates::redactionModeFromName(mode);
    style.fill_bgr = parseColour(fill_colour);
    if (style.mode == vigil::plates::RedactionMode::Image) {
      if (image_path.empty()) throw std::runtime_error("mode image needs --image");
      style.image_bgr = vigil::plates::loadRedactionImage(image_path);
    }
    vigil::plates::DetectorOptions detector_options;
    detector_options.model_path = model_path;
    detector_options.score_threshold = score_threshold;
    auto detector = vigil::plates::makePlateDetector(backend, detector_options);
    fs::create_directories(output_dir);

    int failures = 0;
    for (const auto& file : expandInputs(inputs)) {
      cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
      if (image.empty()) {
        std::cerr << file.string() << ": cannot read the image\n";
        ++failures;
        continue;
      }
      const auto boxes = vigil::plates::anonymizeImage(image, *detector, style, {padding, 4});
      const fs::path target = fs::path(output_dir) / file.filename();
      if (fs::exists(target) && fs::equivalent(target, file)) {
        std::cerr << file.string() << ": refusing to overwrite the input\n";
        ++failures;
        continue;
      }
      if (!cv::imwrite(target.string(), image)) {
        std::cerr << target.string() << ": cannot write the image\n";
        ++failures;
        continue;
      }
      std::cout << file.string() << " -> " << target.string() << ": " << boxes.size()
                << " plate region(s) redacted\n";
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& error) {
    std::cerr << "vigil-anonymize: " << error.what() << '\n';
    return 2;
  }
}
