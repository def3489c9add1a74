// images_bench: what a still costs through the image API, on this machine.
//
//   1. In process: StillAnalyser::analyse on one 1280x720 JPEG, faces+codes+
//      plates, N times (what `vigil analyze` does per image once started).
//   2. The CLI: `vigil analyze` on 1 image and on N, whole process wall time;
//      the marginal per-image time is (t_N - t_1) / (N - 1).
//   3. HTTP: POST /v1/analyze of the same JPEG, N times in a row, to a Runner
//      serving only the image API.
//   4. A batch of 50 different JPEGs: POST /v1/batches to "done".
//
// Targets (issue 17): one image <= 60 ms wall via CLI and HTTP, a 50-image
// batch <= 5 s. Prints the load average: on a shared machine it says how much
// of the time was someone else's.
//
//   build/bench/images/images_bench [--repeat 20] [--workers 2]
#include "config.hpp"
#include "runner.hpp"
#include "still_analyser.hpp"
#include "vigil/groundtruth/stills.hpp"

#include <gst/gst.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Summary {
  double p50 = 0, p90 = 0, mean = 0;
};

Summary summarise(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Summary s;
  if (samples.empty()) return s;
  s.p50 = samples[samples.size() / 2];
  s.p90 = samples[std::min(samples.size() - 1, samples.size() * 9 / 10)];
  for (double v : samples) s.mean += v;
  s.mean /= static_cast<double>(samples.size());
  return s;
}

std::string jpegOf(std::uint32_t seed) {
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", vigil::groundtruth::checkoutStill(cv::Size(1280, 720), seed), bytes,
               {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(bytes.begin(), bytes.end());
}

double runCli(const std::vector<std::string>& images) {
  std::string command = std::string(VIGIL_BINARY) + " --log-level warn analyze";
  for (const auto& image : images) command += " '" + image + "'";
  command += " > /dev/null";
  const auto start = Clock::now();
  if (std::system(command.c_str()) != 0) std::fprintf(stderr, "warning: %s failed\n", command.c_str());
  return msSince(start);
}

double loadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 20;
  int workers = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--repeat") repeat = std::max(2, std::atoi(argv[i + 1]));
    else if (flag == "--workers") workers = std::max(1, std::atoi(argv[i + 1]));
  }
  setenv("GST_PLUGIN_PATH", VIGIL_PLUGIN_DIR, 0);
  gst_init(&argc, &argv);
  vigil::pipeline::ensurePluginLoaded();
  std::printf("images_bench: 1280x720 JPEG, faces+codes+plates, %d repeats, %u CPUs, load average %.1f at start\n",
              repeat, std::thread::hardware_concurrency(), loadAverage());

  const std::string jpeg = jpegOf(1);
  const fs::path directory = fs::temp_directory_path() / ("vigil-images-bench-" + std::to_string(getpid()));
  fs::create_directories(directory);
  const fs::path one = directory / "one.jpg";
  std::ofstream(one, std::ios::binary) << jpeg;

  // 1. In process.
  {
    vigil::pipeline::StillOptions options;
    options.analytics = vigil::pipeline::stillAnalyticsNamed("faces,codes,plates");
    vigil::pipeline::StillAnalyser analyser(options);
    std::vector<double> samples;
    for (int i = 0; i < repeat; ++i) {
      const auto start = Clock::now();
      analyser.analyse(jpeg);
      samples.push_back(msSince(start));
    }
    const Summary s = summarise(samples);
    std::printf("in process  StillAnalyser::analyse   p50 %6.1f ms  p90 %6.1f ms  mean %6.1f ms\n", s.p50, s.p90, s.mean);
  }

  // 2. The CLI.
  {
    std::vector<std::string> many;
    for (int i = 0; i < repeat; ++i) many.push_back(one.string());
    const double single = runCli({one.string()});
    const double all = runCli(many);
    std::printf("CLI         vigil analyze 1 image     %6.0f ms (process: start, models, image)\n", single);
    std::printf("CLI         vigil analyze %d images   %6.0f ms: %.1f ms per further image\n", repeat, all,
                (all - single) / (repeat - 1));
  }

  // 3 and 4. HTTP.
  {
    const std::string yaml = "http: {address: 127.0.0.1, port: 0}\nimages: {workers: " + std::to_string(workers) +
                             ", queue: 100}\n";
    vigil::pipeline::Runner runner(vigil::pipeline::parseConfig(yaml, "bench.yaml"));
    std::thread thread([&] { runner.run(); });
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (runner.httpPort() <= 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    httplib::Client client("127.0.0.1", runner.httpPort());
    client.set_read_timeout(120, 0);

    std::vector<double> samples;
    for (int i = 0; i < repeat; ++i) {
      const auto start = Clock::now();
      const auto answer = client.Post("/v1/analyze", jpeg, "image/jpeg");
      samples.push_back(msSince(start));
      if (!answer || answer->status != 200) std::fprintf(stderr, "warning: /v1/analyze failed\n");
    }
    const Summary s = summarise(samples);
    std::printf("HTTP        POST /v1/analyze          p50 %6.1f ms  p90 %6.1f ms  mean %6.1f ms\n", s.p50, s.p90, s.mean);

    httplib::MultipartFormDataItems batch;
    for (int i = 0; i < vigil::pipeline::kMaxImagesPerBatch; ++i) {
      batch.push_back({"image", jpegOf(100 + static_cast<std::uint32_t>(i)), "i" + std::to_string(i) + ".jpg",
                       "image/jpeg"});
    }
    const auto start = Clock::now();
    const auto accepted = client.Post("/v1/batches", batch);
    std::string state;
    if (accepted && accepted->status == 202) {
      const std::string id = nlohmann::json::parse(accepted->body)["id"];
      while (state != "done" && msSince(start) < 120'000) {
        const auto polled = client.Get(("/v1/batches/" + id).c_str());
        if (!polled) break;
        state = nlohmann::json::parse(polled->body)["state"];
        if (state != "done") std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::printf("HTTP        batch of %d images         %6.0f ms to done (%d workers)%s\n",
                vigil::pipeline::kMaxImagesPerBatch, msSince(start), workers, state == "done" ? "" : " NOT DONE");
    runner.requestStop();
    thread.join();
  }
  std::printf("load average %.1f at the end\n", loadAverage());
  fs::remove_all(directory);
  return 0;
}
