// Still snapshots of a source's anonymized stream: the newest frame that
// reached the source's `snapshot` output (after every analytic, so redacted),
// encoded only when someone asks for it.
#pragma once

#include <gst/gst.h>
#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

namespace vigil::pipeline {

enum class SnapshotFormat { kJpeg, kWebp };

// "jpeg" or "webp" (the config's spelling); nullopt otherwise.
std::optional<SnapshotFormat> snapshotFormatNamed(const std::string& name);
const char* snapshotExtension(SnapshotFormat format);  // "jpg", "webp"
const char* snapshotMimeType(SnapshotFormat format);   // "image/jpeg", "image/webp"

// Encodes one raw video sample. I420 (what the analytics carry) is converted
// with OpenCV directly; any other raw format goes through GStreamer first.
// Throws std::runtime_error when the sample cannot be read or encoded.
std::vector<unsigned char> encodeSnapshot(GstSample* sample, SnapshotFormat format);

// The sample's frame as packed BGR (a copy). Throws std::runtime_error.
cv::Mat snapshotBgr(GstSample* sample);

// Writes `bytes` to DIRECTORY/SOURCE-YYYYMMDDTHHMMSS.mmmZ.EXT (UTC; a numeric
// suffix if that name exists), creating the directory. Returns the path.
// Throws std::runtime_error when it cannot be written.
std::string saveSnapshot(const std::vector<unsigned char>& bytes, const std::string& directory,
                         const std::string& source_id, SnapshotFormat format);

}  // namespace vigil::pipeline
