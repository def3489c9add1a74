// The field corpus: every photo installed and where its manifest says, both
// splits usable and disjoint; and facecount / the code reader holding their
// floors on the dev split (real clutter, text, animals, paintings, low light,
// motion blur, H.264), where the project's own generator was too kind.
#include "vigil/codes/code_reader.hpp"
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/groundtruth/face_run.hpp"
#include "vigil/groundtruth/face_score.hpp"
#include "vigil/groundtruth/field_corpus.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

namespace {

namespace gt = vigil::groundtruth;
namespace codes = vigil::codes;

// Floors for facecount with its defaults on the short dev clip below, which
// measured recall 0.83-0.86, precision 0.84 and 0.2 phantom faces per
// face-free frame over runs (one confirmed phantom followed through a shot
// weighs a lot in 240 face-free frames; which tile a scan visits first
// depends on thread timing, so runs differ a little); without the Haar
// confirmation the same clip had 0.30-0.38 phantoms, and the 40-shot dev clip
// of bench/field 0.70 (vs 0.05). With confirmation the clip measured 0.20 and
// 0.233 against 0.304 and 0.321 without in two runs on a loaded machine, so
// the confirmation is asked for a cut of at least 15 %, not 25 %.
constexpr double kMinFaceRecall = 0.75;
constexpr double kMinFacePrecision = 0.78;
constexpr double kMaxPhantomsPerFaceFreeFrame = 0.3;
constexpr double kMaxConfirmedPhantomShare = 0.85;  // phantoms kept by the confirmation
// The code reader on codes over dev photographs, turned up to 30 degrees,
// under glare and partly covered: 16 of 21 read when the floor was set.
constexpr double kMinCodeRecall = 0.70;

TEST(FieldCorpus, ManifestSplitsAreUsableAndDisjoint) {
  std::set<std::string> names, hashes;
  int dev_faces = 0, test_faces = 0, dev_free = 0, test_free = 0;
  for (const gt::FieldPhoto& photo : gt::fieldPhotos()) {
    EXPECT_TRUE(names.insert(photo.name).second) << "listed twice: " << photo.name;
    EXPECT_TRUE(hashes.insert(photo.sha256).second) << "same pixels twice: " << photo.name;
    const bool dev = photo.split == gt::FieldSplit::Dev;
    EXPECT_EQ(dev, photo.sha256[0] < '8') << photo.name;
    if (photo.faces.empty()) {
      ++(dev ? dev_free : test_free);
    } else {
      (dev ? dev_faces : test_faces) += static_cast<int>(photo.faces.size());
    }
  }
  EXPECT_GE(dev_free, 20);
  EXPECT_GE(test_free, 20);
  EXPECT_GE(dev_faces, 10);
  EXPECT_GE(test_faces, 10);
}

TEST(FieldCorpus, EveryPhotoIsInstalledAndHoldsItsFaces) {
  for (const gt::FieldPhoto& photo : gt::fieldPhotos()) {
    const std::string path = gt::fieldPhotoDirectory() + "/" + photo.name;
    const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
    ASSERT_FALSE(image.empty()) << path << " missing: run scripts/models/field-photos.sh";
    for (const cv::Rect& face : photo.faces) {
      EXPECT_EQ(face & cv::Rect(0, 0, image.cols, image.rows), face) << photo.name << " face outside the photo";
    }
  }
}

TEST(FieldCorpus, ClipsAreDeterministicAndLabelled) {
  gt::FieldFaceOptions options;
  options.shots = 4;
  options.frames_per_shot = 5;
  const auto first = gt::makeFieldFaceScene(gt::FieldSplit::Dev, options);
  const auto second = gt::makeFieldFaceScene(gt::FieldSplit::Dev, options);
  int faces = 0;
  for (std::int64_t frame = 0; frame < 20; ++frame) {
    gt::FrameTruth a, b;
    const cv::Mat image_a = first->render(frame, a);
    const cv::Mat image_b = second->render(frame, b);
    ASSERT_EQ(cv::norm(image_a, image_b, cv::NORM_INF), 0) << "frame " << frame;
    ASSERT_EQ(a.objects.size(), b.objects.size());
    for (const auto& object : a.objects) {
      EXPECT_EQ(object.kind, gt::kFaceKind);
      EXPECT_EQ(object.box & cv::Rect(0, 0, 1280, 720), object.box);
    }
    faces += static_cast<int>(a.objects.size());
  }
  EXPECT_GT(faces, 0) << "the first shots of a clip hold faces";
}

TEST(FieldFaces, DefaultsHoldTheFloorOnDevPhotographs) {
  gt::FieldFaceOptions options;
  options.shots = 16;
  options.seed = 7;
  const auto scene = gt::makeFieldFaceScene(gt::FieldSplit::Dev, options);
  // Per process: two runs of this test at once (two checkouts on one
  // machine) must not write one clip.
  const std::filesystem::path directory =
      std::filesystem::path(::testing::TempDir()) / ("vigil-field-faces-" + std::to_string(getpid()));
  std::filesystem::create_directories(directory);
  struct RemoveAfter {
    std::filesystem::path path;
    ~RemoveAfter() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove_after{directory};
  const std::string clip = (directory / "dev.mkv").string();
  const std::string truth_path = (directory / "dev.truth.jsonl").string();
  gt::ClipOptions clip_options;
  clip_options.frames = static_cast<std::int64_t>(options.shots) * options.frames_per_shot;
  clip_options.bitrate_kbps = 2500;
  gt::writeClip(*scene, clip, clip_options, truth_path);
  const auto truth = gt::readTruth(truth_path);
  auto run = [&](const std::string& analysis) {
    const auto results = gt::runFaceAnalysis(clip, analysis);
    EXPECT_EQ(results.size(), truth.size());
    const gt::FaceRunScore scored = gt::scoreFaceRun(truth, results);
    EXPECT_GT(scored.face_free_frames, 150);
    return scored;
  };
  const gt::FaceRunScore defaults = run("facecount");
  const gt::FaceRunScore unconfirmed = run("facecount confirm-below=0");
  const gt::FaceScore& score = defaults.all;
  const double phantoms = defaults.phantomsPerFaceFreeFrame();
  ASSERT_GT(score.truth_faces, 200) << score.summary();
  std::cout << "field dev, facecount defaults: " << score.summary() << " phantoms/face-free frame " << phantoms
            << "\nwithout confirmation: " << unconfirmed.all.summary() << " phantoms/face-free frame "
            << unconfirmed.phantomsPerFaceFreeFrame() << '\n';
  // The Haar confirmation is what keeps phantom faces off real photographs.
  EXPECT_LT(phantoms, kMaxConfirmedPhantomShare * unconfirmed.phantomsPerFaceFreeFrame()) << score.summary();
  EXPECT_GT(score.precision(), unconfirmed.all.precision());
  EXPECT_GE(score.recall(), kMinFaceRecall) << score.summary();
  EXPECT_GE(score.precision(), kMinFacePrecision) << score.summary();
  EXPECT_LE(phantoms, kMaxPhantomsPerFaceFreeFrame) << score.summary();
}

TEST(FieldCodes, ReaderHoldsTheFloorOverDevPhotographs) {
  gt::CodeSceneOptions options;
  options.seed = 33;
  options.codes_per_format = 2;
  const auto placements = gt::makeCodePlacements(options);
  const gt::Scene scene = gt::makeFieldCodeScene(gt::FieldSplit::Dev, options, placements);
  codes::CodeReader reader;
  const gt::CodeScore score = gt::readAndScore(scene, gt::codeSceneLength(placements), reader);
  const std::string report = gt::describe(score);
  std::cout << "field dev, code reader: " << report << '\n';
  EXPECT_EQ(score.total.wrong, 0) << report;
  EXPECT_GE(score.total.recall(), kMinCodeRecall) << report;
}

}  // namespace
