// Ground truth for code reading: symbols of every supported format rendered
// with zint (plain and GS1 payloads), placed in a scene moving, rotated, in
// perspective, blurred and noisy, with their text and box known per frame; and
// a scorer for what a reader made of them.
#pragma once

#include "vigil/codes/code_reader.hpp"
#include "vigil/codes/format.hpp"
#include "vigil/groundtruth/scene.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigil::groundtruth {

inline constexpr const char* kKindCode = "code";

struct CodeSymbol {
  codes::Format format = codes::Format::QRCode;
  // Plain data, or for GS1 the bracket form "(01)09501101530003(17)201231".
  // EAN/UPC payloads carry their check digit.
  std::string payload;
  bool gs1 = false;
  // What a correct reader reports as Code::canonicalText(): the payload.
  const std::string& expectedText() const { return payload; }
};

// One module per pixel, dark = 0, light = 255, with the quiet zone the
// format needs. Throws std::runtime_error if zint rejects the payload.
cv::Mat symbolModules(const CodeSymbol& symbol);

// The same at `module_px` pixels per module (nearest neighbour).
cv::Mat renderSymbol(const CodeSymbol& symbol, int module_px);

struct CodePlacement {
  std::int64_t id = 0;
  CodeSymbol symbol;
  int module_px = 3;
  Path path;                    // where the symbol's centre is, frame by frame
  float angle_deg = 0.f;        // rotation at path.start
  float spin_deg_per_frame = 0.f;
  float tilt = 0.f;             // perspective: 0 = flat, 0.25 = far edge 25 % shorter
  float blur_sigma = 0.f;       // Gaussian blur over the symbol, pixels
  float noise_sigma = 0.f;      // Gaussian noise over the symbol, grey levels
  // Specular glare: a highlight of this strength (share of full white, 0 =
  // none) centred at `glare_at` (in symbol-relative coordinates, 0..1), with
  // a radius of `glare_radius` times the symbol's diagonal.
  float glare = 0.f;
  cv::Point2f glare_at{0.5f, 0.5f};
  float glare_radius = 0.2f;
  // Partial occlusion (a hand or a label passing over): this share of the
  // symbol's width, from its left edge, is covered during the middle third of
  // its visible frames, which then count as occluded (not wholly visible).
  float occlusion = 0.f;
};

// Draws the placements. A symbol counts as present (TruthObject::occluded =
// false) only while it is wholly inside the frame.
class CodeLayer : public Layer {
 public:
  explicit CodeLayer(std::vector<CodePlacement> placements);
  void render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) override;
  const std::vector<CodePlacement>& placements() const { return placements_; }

 private:
  struct Prepared {
    CodePlacement placement;
    cv::Mat image;     // rendered symbol incl. quiet zone
    cv::Rect2f data;   // the symbol without quiet zone, in `image` pixels
  };
  std::vector<Prepared> prepared_;
  std::vector<CodePlacement> placements_;
};

struct CodeSceneOptions {
  cv::Size size{1280, 720};
  double fps = 25.0;
  std::uint32_t seed = 1;
  codes::FormatSet formats = codes::FormatSet::all();
  int codes_per_format = 4;     // half of them GS1 where the format allows
  int min_module_px = 2;
  int max_module_px = 4;
  std::int64_t visible_frames = 40;
  bool hard = true;             // rotation, tilt, blur and noise on (else flat and clean)
};

// Deterministic placements for a clip: codes of every selected format arrive
// one after another in six slots (3 rows x 2 columns) of the frame.
std::vector<CodePlacement> makeCodePlacements(const CodeSceneOptions& options);
// Frames needed to show every placement (the last one's end).
std::int64_t codeSceneLength(const std::vector<CodePlacement>& placements);
Scene makeCodeScene(const CodeSceneOptions& options, const std::vector<CodePlacement>& placements);

// One code as a reader reported it in one frame.
struct CodeRead {
  std::int64_t frame = 0;
  std::string format;  // codes::formatName
  std::string text;    // codes::Code::canonicalText()
  cv::Rect box;
};

struct CodeTally {
  int present = 0;  // distinct codes wholly visible in at least one frame
  int read = 0;     // of those, read correctly at least once
  int wrong = 0;    // distinct (format, text) reads matching no code in view
  double recall() const { return present > 0 ? static_cast<double>(read) / present : 1.0; }
};

struct CodeScore {
  CodeTally total;
  std::map<std::string, CodeTally> per_format;
  std::vector<std::string> wrong_reads;  // "format:text" for the report
  std::vector<std::string> missed;       // "format:text" of codes never read
};

// Matches reads to truth per frame by format and text; `reads` is indexed
// like `truth` (frame i), missing frames count as "read nothing".
CodeScore scoreCodes(const std::vector<FrameTruth>& truth,
                     const std::vector<std::vector<CodeRead>>& reads);

// Renders frames [0, frames) of `scene`, gives each to `reader` as grey, as
// the element does, and scores the reads against the scene's truth.
CodeScore readAndScore(const Scene& scene, std::int64_t frames, codes::CodeReader& reader);

// "format read/present; ..." per format, then a line per missed and per wrong
// read: what a failing test or a bench prints.
std::string describe(const CodeScore& score);

}  // namespace vigil::groundtruth
