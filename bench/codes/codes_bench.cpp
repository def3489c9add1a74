// codes_bench: `codereader` against gst-plugins-bad's `zbar` element on the
// same generated 720p H.264 clips, in one run: CPU ms per frame (median of
// runs, decode cost subtracted), fps, and recall / wrong reads per format.
// Not part of ctest.
#include "vigil/codes/code_reader.hpp"
#include "vigil/codes/gs1.hpp"
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/codes.hpp"
#include "vigil/groundtruth/field_corpus.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <CLI/CLI.hpp>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace gt = vigil::groundtruth;
namespace vgst = vigil::gst;

constexpr int kCodesPerFormat = 3;
constexpr double kFps = 25.0;
constexpr const char* kDecode = "filesrc location=\"%s\" ! matroskademux ! h264parse ! avdec_h264 max-threads=1";

using Reads = std::vector<std::vector<gt::CodeRead>>;

double processCpuMs() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

std::int64_t frameOf(GstClockTime pts) {
  return static_cast<std::int64_t>(static_cast<double>(pts) / GST_SECOND * kFps + 0.5);
}

void addRead(Reads& reads, std::int64_t frame, gt::CodeRead read) {
  if (frame < 0) return;
  if (static_cast<std::size_t>(frame) >= reads.size()) reads.resize(static_cast<std::size_t>(frame) + 1);
  read.frame = frame;
  reads[static_cast<std::size_t>(frame)].push_back(std::move(read));
}

// codereader's reads as its events see them: objects in state "appeared"
// (boxes carried between reads are not reads), with the library's canonical text.
GstPadProbeReturn collectCodereader(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* reads = static_cast<Reads*>(data);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  gpointer state = nullptr;
  while (GstMeta* meta = gst_buffer_iterate_meta_filtered(buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    const GstStructure* params = vgst::objectParams(roi);
    if (!params) continue;
    const char* state_text = gst_structure_get_string(params, "state");
    if (!state_text || std::string(state_text) != "appeared") continue;
    vigil::codes::Code code;
    const std::string format = gst_structure_get_string(params, "format");
    code.format = *vigil::codes::formatFromName(format);
    code.text = gst_structure_get_string(params, "text");
    code.gs1 = gst_structure_has_field(params, "gs1");
    addRead(*reads, frameOf(GST_BUFFER_PTS(buffer)), {0, format, code.canonicalText(), {}});
  }
  return GST_PAD_PROBE_OK;
}

std::string zbarFormat(const std::string& type) {
  static const std::map<std::string, std::string> kNames = {
      {"EAN-13", "ean13"}, {"EAN-8", "ean8"},     {"UPC-A", "upca"},    {"UPC-E", "upce"},
      {"CODE-128", "code128"}, {"CODE-39", "code39"}, {"I2/5", "itf"}, {"QR-Code", "qr"},
      {"PDF417", "pdf417"}};
  const auto it = kNames.find(type);
  return it == kNames.end() ? type : it->second;
}

// The zbar element reports GS1 data without its FNC1 marker: read it as GS1
// when it parses as such, as a GS1-aware host would.
std::string zbarText(const std::string& symbol) {
  const auto gs1 = vigil::codes::parseGs1(symbol);
  if (gs1.valid() && !symbol.empty() && std::isdigit(static_cast<unsigned char>(symbol[0]))) {
    return gs1.bracketForm();
  }
  return symbol;
}

struct RunResult {
  double cpu_ms = 0;
  std::int64_t frames = 0;
  Reads reads;
};

RunResult runPipeline(const std::string& description, bool zbar, bool codereader) {
  GError* raw = nullptr;
  vgst::ElementPtr pipeline(gst_parse_launch(description.c_str(), &raw));
  vgst::ErrorPtr error(raw);
  if (!pipeline || error) throw std::runtime_error("cannot build: " + description);
  RunResult result;
  std::int64_t frames = 0;
  vgst::ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "sink"));
  vgst::PadPtr pad(gst_element_get_static_pad(sink.get(), "sink"));
  gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER,
                    [](GstPad*, GstPadProbeInfo*, gpointer count) {
                      ++*static_cast<std::int64_t*>(count);
                      return GST_PAD_PROBE_OK;
                    },
                    &frames, nullptr);
  if (codereader) gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, collectCodereader, &result.reads, nullptr);
  vgst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  const double start = processCpuMs();
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  for (;;) {
    vgst::MessagePtr message(gst_bus_timed_pop(bus.get(), 120 * GST_SECOND));
    if (!message) throw std::runtime_error("timeout: " + description);
    const GstMessageType type = GST_MESSAGE_TYPE(message.get());
    if (type == GST_MESSAGE_EOS) break;
    if (type == GST_MESSAGE_ERROR) throw std::runtime_error("pipeline error: " + description);
    if (zbar && type == GST_MESSAGE_ELEMENT) {
      const GstStructure* s = gst_message_get_structure(message.get());
      if (gst_structure_has_name(s, "barcode")) {
        GstClockTime timestamp = 0;
        gst_structure_get_clock_time(s, "timestamp", &timestamp);
        addRead(result.reads, frameOf(timestamp),
                {0, zbarFormat(gst_structure_get_string(s, "type")), zbarText(gst_structure_get_string(s, "symbol")), {}});
      }
    }
  }
  result.cpu_ms = processCpuMs() - start;
  result.frames = frames;
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  return result;
}

// zbar reports UPC-A as EAN-13 with a leading 0: credit it as the UPC-A it is.
void upcAsEan(Reads& reads, const std::vector<gt::FrameTruth>& truth) {
  for (std::size_t f = 0; f < reads.size() && f < truth.size(); ++f) {
    for (auto& read : reads[f]) {
      if (read.format != "ean13" || read.text.size() != 13 || read.text[0] != '0') continue;
      for (const auto& object : truth[f].objects) {
        if (object.format == "upca" && object.text == read.text.substr(1)) {
          read.format = "upca";
          read.text = object.text;
        }
      }
    }
  }
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void printScore(const char* name, const gt::CodeScore& score) {
  std::printf("  %-22s read %3d/%3d (%.1f %%), wrong %d   [", name, score.total.read, score.total.present,
              100.0 * score.total.recall(), score.total.wrong);
  for (const auto& [format, tally] : score.per_format) std::printf(" %s %d/%d", format.c_str(), tally.read, tally.present);
  std::printf(" ]\n");
}

gt::CodeScore restricted(const std::vector<gt::FrameTruth>& truth, const Reads& reads,
                         const std::vector<std::string>& formats) {
  std::vector<gt::FrameTruth> kept = truth;
  for (auto& frame : kept) {
    frame.objects.erase(std::remove_if(frame.objects.begin(), frame.objects.end(),
                                       [&](const gt::TruthObject& object) {
                                         return std::find(formats.begin(), formats.end(), object.format) == formats.end();
                                       }),
                        frame.objects.end());
  }
  Reads kept_reads = reads;
  for (auto& frame : kept_reads) {
    frame.erase(std::remove_if(frame.begin(), frame.end(),
                               [&](const gt::CodeRead& read) {
                                 return std::find(formats.begin(), formats.end(), read.format) == formats.end();
                               }),
                frame.end());
  }
  return gt::scoreCodes(kept, kept_reads);
}

}  // namespace

int main(int argc, char** argv) {
  setenv("GST_PLUGIN_PATH", VIGIL_PLUGIN_DIR, 0);
  gst_init(&argc, &argv);
  CLI::App app{"codereader against the zbar element on generated and field clips"};
  int runs = 5;
  std::vector<std::string> only;
  app.add_option("--runs", runs, "Timed runs per pipeline (the median is reported)")->check(CLI::Range(1, 50));
  app.add_option("--clip", only, "Clips to run: hard, flat, field-dev, field-test (default all)")
      ->check(CLI::IsMember({"hard", "flat", "field-dev", "field-test"}));
  CLI11_PARSE(app, argc, argv);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("vigil-codes-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);

  struct Clip {
    const char* key;
    const char* name;
    bool hard;
    std::uint32_t seed;
    const char* field_split;  // over real photographs of this split, or nullptr
  };
  // The field clips put the hard placements over real photographs (the field
  // corpus' dev and test splits): tune on dev, report test.
  for (const Clip& clip : {Clip{"hard", "hard (rotated, tilted, blurred, noisy)", true, 31, nullptr},
                           Clip{"flat", "flat and clean", false, 32, nullptr},
                           Clip{"field-dev", "field dev (hard, over real photographs)", true, 33, "dev"},
                           Clip{"field-test", "field test (hard, over real photographs)", true, 34, "test"}}) {
    if (!only.empty() && std::find(only.begin(), only.end(), clip.key) == only.end()) continue;
    gt::CodeSceneOptions options;
    options.seed = clip.seed;
    options.codes_per_format = kCodesPerFormat;
    options.hard = clip.hard;
    options.fps = kFps;
    const auto placements = gt::makeCodePlacements(options);
    const gt::Scene scene = clip.field_split ? gt::makeFieldCodeScene(gt::fieldSplitFromName(clip.field_split),
                                                                      options, placements)
                                             : gt::makeCodeScene(options, placements);
    gt::ClipOptions clip_options;
    clip_options.frames = gt::codeSceneLength(placements);
    const std::string video = (dir / "codes.mkv").string();
    const std::string truth_path = (dir / "codes.jsonl").string();
    gt::writeClip(scene, video, clip_options, truth_path);
    const auto truth = gt::readTruth(truth_path);

    char decode[512];
    std::snprintf(decode, sizeof decode, kDecode, video.c_str());
    const std::string base(decode);
    const std::string decode_only = base + " ! fakesink name=sink sync=false";
    const std::string ours = base + " ! codereader ! fakesink name=sink sync=false";
    const std::string ours_i2 = base + " ! codereader interval=2 ! fakesink name=sink sync=false";
    const std::string stock = base + " ! zbar ! fakesink name=sink sync=false";

    std::vector<double> t_decode, t_ours, t_ours_i2, t_stock;
    RunResult r_ours, r_ours_i2, r_stock;
    for (int run = 0; run < runs; ++run) {
      t_decode.push_back(runPipeline(decode_only, false, false).cpu_ms);
      r_ours = runPipeline(ours, false, true);
      t_ours.push_back(r_ours.cpu_ms);
      r_ours_i2 = runPipeline(ours_i2, false, true);
      t_ours_i2.push_back(r_ours_i2.cpu_ms);
      r_stock = runPipeline(stock, true, false);
      t_stock.push_back(r_stock.cpu_ms);
    }
    upcAsEan(r_stock.reads, truth);
    const double frames = static_cast<double>(r_ours.frames);
    const double decode_ms = median(t_decode) / frames;
    const double ours_ms = median(t_ours) / frames - decode_ms;
    const double ours_i2_ms = median(t_ours_i2) / frames - decode_ms;
    const double stock_ms = median(t_stock) / frames - decode_ms;

    std::printf("\nclip: %s, 1280x720, %.0f frames, %d codes per format, modules 2-4 px\n", clip.name, frames,
                kCodesPerFormat);
    std::printf("  CPU ms/frame (median of %d runs, decode %.2f ms subtracted; fps = 1000/ms on one core):\n", runs,
                decode_ms);
    std::printf("    codereader             %7.2f ms  %7.1f fps\n", ours_ms, 1000.0 / ours_ms);
    std::printf("    codereader interval=2  %7.2f ms  %7.1f fps\n", ours_i2_ms, 1000.0 / ours_i2_ms);
    std::printf("    zbar element           %7.2f ms  %7.1f fps\n", stock_ms, 1000.0 / stock_ms);
    std::printf("    speed-up codereader / zbar: %.1fx (interval=2: %.1fx)\n", stock_ms / ours_ms, stock_ms / ours_i2_ms);
    printScore("codereader", gt::scoreCodes(truth, r_ours.reads));
    printScore("codereader interval=2", gt::scoreCodes(truth, r_ours_i2.reads));
    printScore("zbar element", gt::scoreCodes(truth, r_stock.reads));
    const std::vector<std::string> shared = {"qr", "pdf417", "ean13", "ean8", "upca", "upce", "code128", "code39", "itf"};
    std::printf("  formats both read (no DataMatrix/Aztec in zbar):\n");
    printScore("codereader", restricted(truth, r_ours.reads, shared));
    printScore("zbar element", restricted(truth, r_stock.reads, shared));
    // What codereader misread and missed, with how each was drawn: where to look next.
    const gt::CodeScore ours_score = gt::scoreCodes(truth, r_ours.reads);
    for (const std::string& wrong : ours_score.wrong_reads) std::printf("    wrong  %s\n", wrong.c_str());
    for (const std::string& missed : ours_score.missed) {
      for (const gt::CodePlacement& placement : placements) {
        if (missed != std::string(vigil::codes::formatName(placement.symbol.format)) + ":" + placement.symbol.payload) {
          continue;
        }
        std::printf("    missed %-12s module %d px, angle %+.0f deg, tilt %.2f, blur %.1f, noise %.0f, glare %.2f, "
                    "occluded %.0f %%\n",
                    vigil::codes::formatName(placement.symbol.format), placement.module_px, placement.angle_deg,
                    placement.tilt, placement.blur_sigma, placement.noise_sigma, placement.glare,
                    100.0 * placement.occlusion);
      }
    }
    const std::vector<std::string> targets = {"qr", "datamatrix", "ean13", "code128"};
    std::printf("  target formats (QR, DataMatrix, EAN-13, Code 128):\n");
    printScore("codereader", restricted(truth, r_ours.reads, targets));
    printScore("zbar element", restricted(truth, r_stock.reads, targets));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
