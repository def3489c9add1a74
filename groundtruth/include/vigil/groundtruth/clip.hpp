// Writes a scene to an H.264 Matroska clip (x264 through GStreamer) and its
// ground truth to a JSON-lines file beside it; reads the truth back.
#pragma once

#include "vigil/groundtruth/scene.hpp"

#include <string>
#include <vector>

namespace vigil::groundtruth {

struct ClipOptions {
  std::int64_t frames = 150;
  int bitrate_kbps = 4000;       // high enough that codes and plates stay sharp
  int keyframe_interval = 30;
};

// Throws std::runtime_error if the encoder pipeline fails.
void writeClip(const Scene& scene, const std::string& path, const ClipOptions& options = {},
               const std::string& truth_path = "");

// One JSON object per frame: {"frame":N,"objects":[{"kind":..,"id":..,"box":[x,y,w,h],...}]}
void writeTruth(const std::vector<FrameTruth>& truth, const std::string& path);
std::vector<FrameTruth> readTruth(const std::string& path);

}  // namespace vigil::groundtruth
