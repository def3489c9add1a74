// Face counting on the field corpus: real photographs (clutter, animals,
// text, paintings, low light, motion blur, H.264 at a camera's bitrate) with
// and without faces. For each split asked for, writes the clip once (kept in
// --out, reused when present), runs facecount at each score threshold and the
// stock gst-plugins-bad facedetect, and prints recall / precision / count
// error for faces >= the corpus' evaluated size at IoU 0.3, plus phantom
// faces per face-free frame. Thresholds are chosen on dev; test is reported.
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/face_run.hpp"
#include "vigil/groundtruth/face_score.hpp"
#include "vigil/groundtruth/field_corpus.hpp"

#include <CLI/CLI.hpp>
#include <gst/gst.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace gt = vigil::groundtruth;

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  CLI::App app{"facecount on the field corpus, per split"};
  std::vector<std::string> splits = {"dev"};
  std::string out = (std::filesystem::temp_directory_path() / "vigil-field").string();
  std::vector<double> thresholds = {0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85};
  std::string extra;
  gt::FieldFaceOptions options;
  options.shots = 40;
  app.add_option("--split", splits, "Splits to run: dev, test")->check(CLI::IsMember({"dev", "test"}));
  app.add_option("--out", out, "Where the clips are written (and reused)");
  app.add_option("--thresholds", thresholds, "facecount score-threshold values to sweep");
  app.add_option("--shots", options.shots, "Shots per clip (one photo each, 30 frames)");
  app.add_option("--seed", options.seed, "Corpus seed");
  app.add_option("--facecount", extra, "Extra facecount properties, e.g. \"interval=1\"");
  CLI11_PARSE(app, argc, argv);

  setenv("GST_PLUGIN_PATH", VIGIL_PLUGIN_DIR, 0);
  gst_update_registry();
  try {
    std::filesystem::create_directories(out);
    for (const std::string& name : splits) {
      const gt::FieldSplit split = gt::fieldSplitFromName(name);
      const std::string base = out + "/faces-" + name + "-" + std::to_string(options.shots) + "-" +
                               std::to_string(options.seed);
      if (!std::filesystem::exists(base + ".truth.jsonl")) {
        gt::ClipOptions clip;
        clip.frames = static_cast<std::int64_t>(options.shots) * options.frames_per_shot;
        clip.bitrate_kbps = 2500;
        gt::writeClip(*gt::makeFieldFaceScene(split, options), base + ".mkv", clip, base + ".truth.jsonl");
      }
      const auto truth = gt::readTruth(base + ".truth.jsonl");
      std::int64_t face_free_frames = 0;
      for (const auto& frame : truth) face_free_frames += frame.objects.empty() ? 1 : 0;
      std::printf("field corpus %s split: %zu frames (%lld face-free), %s.mkv\n", name.c_str(), truth.size(),
                  static_cast<long long>(face_free_frames), base.c_str());
      std::printf("  %-44s %7s %9s %11s %14s %8s\n", "analysis", "recall", "precision", "count err",
                  "phantoms/frame", "cpu ms");
      std::vector<std::pair<std::string, std::string>> runs;
      for (double threshold : thresholds) {
        char fragment[160];
        std::snprintf(fragment, sizeof fragment, "facecount score-threshold=%.2f %s", threshold, extra.c_str());
        runs.emplace_back(fragment, fragment);
      }
      runs.emplace_back("facedetect (gst-plugins-bad, Haar)",
                        "videoconvert ! video/x-raw,format=RGB ! facedetect display=false updates=none");
      for (const auto& [label, fragment] : runs) {
        gt::FaceRunStats stats;
        const gt::FaceRunScore row = gt::scoreFaceRun(truth, gt::runFaceAnalysis(base + ".mkv", fragment, &stats));
        std::printf("  %-44s %7.3f %9.3f %11.3f %14.3f %8.1f\n", label.c_str(), row.all.recall(),
                    row.all.precision(), row.all.meanCountError(), row.phantomsPerFaceFreeFrame(),
                    stats.cpuMsPerFrame());
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "field_faces_bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
