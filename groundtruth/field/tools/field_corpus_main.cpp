// vigil-field-corpus: writes one split of the field corpus as an H.264 clip
// plus its per-frame ground truth (JSON lines), e.g.
//   vigil-field-corpus --split dev --out /tmp/field
// gives /tmp/field/faces-dev.mkv and /tmp/field/faces-dev.truth.jsonl.
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/field_corpus.hpp"

#include <CLI/CLI.hpp>
#include <gst/gst.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <exception>
#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
  namespace gt = vigil::groundtruth;
  CLI::App app{"Writes a split of Vigil's field corpus (real photographs) as a clip with per-frame truth"};
  std::string split_name = "dev";
  std::string out_dir = ".";
  gt::FieldFaceOptions options;
  int bitrate_kbps = 2500;
  bool stills = false;
  app.add_option("--split", split_name, "dev (tuning) or test (reporting)")->check(CLI::IsMember({"dev", "test"}));
  app.add_option("--out", out_dir, "Output directory");
  app.add_option("--shots", options.shots, "Shots (one photo each)")->check(CLI::Range(1, 10000));
  app.add_option("--frames-per-shot", options.frames_per_shot, "Frames per shot")->check(CLI::Range(2, 10000));
  app.add_option("--seed", options.seed, "Random seed");
  app.add_option("--bitrate", bitrate_kbps, "H.264 bitrate, kbit/s (a 720p camera sends 1500-4000)")
      ->check(CLI::Range(100, 50000));
  app.add_flag("--stills", stills, "Also write each shot's middle frame as PNG, boxes drawn, for a look by eye");
  CLI11_PARSE(app, argc, argv);
  gst_init(nullptr, nullptr);  // the clip is encoded by a GStreamer pipeline
  try {
    const gt::FieldSplit split = gt::fieldSplitFromName(split_name);
    std::filesystem::create_directories(out_dir);
    const auto scene = gt::makeFieldFaceScene(split, options);
    const std::string base = out_dir + "/faces-" + split_name;
    gt::ClipOptions clip;
    clip.frames = static_cast<std::int64_t>(options.shots) * options.frames_per_shot;
    clip.bitrate_kbps = bitrate_kbps;
    gt::writeClip(*scene, base + ".mkv", clip, base + ".truth.jsonl");
    if (stills) {
      for (int shot = 0; shot < options.shots; ++shot) {
        gt::FrameTruth truth;
        const std::int64_t frame = static_cast<std::int64_t>(shot) * options.frames_per_shot + options.frames_per_shot / 2;
        cv::Mat image = scene->render(frame, truth);
        for (const gt::TruthObject& object : truth.objects) {
          const cv::Scalar colour = object.format.empty() && !object.occluded ? cv::Scalar(0, 255, 0) : cv::Scalar(0, 200, 255);
          cv::rectangle(image, object.box, colour, 2);
        }
        cv::imwrite(base + "-shot" + std::to_string(shot) + ".png", image);
      }
    }
    std::cout << base << ".mkv: " << clip.frames << " frames\n";
  } catch (const std::exception& error) {
    std::cerr << "vigil-field-corpus: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
