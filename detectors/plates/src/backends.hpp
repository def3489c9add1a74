// Factories of the built-in backends (private to the library).
#pragma once

#include "vigil/plates/detector.hpp"

namespace vigil::plates {

std::unique_ptr<PlateDetector> makeEdgeLocaliser(const DetectorOptions& options);
std::unique_ptr<PlateDetector> makeHaarDetector(const DetectorOptions& options);
std::unique_ptr<PlateDetector> makeOnnxDetector(const DetectorOptions& options);

}  // namespace vigil::plates
