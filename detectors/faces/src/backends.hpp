// Backend constructors, private to the library: callers go through makeFaceDetector().
#pragma once

#include "vigil/faces/face_detector.hpp"

#include <memory>
#include <string>

namespace vigil::faces::detail {

std::unique_ptr<FaceDetector> makeBlazeFace(const DetectorOptions& options, const std::string& path);
std::unique_ptr<FaceDetector> makeHaar(const DetectorOptions& options, const std::string& path);

// Throws ModelError unless `path` names a readable regular file.
void requireReadableFile(const std::string& path, const char* what);

}  // namespace vigil::faces::detail
