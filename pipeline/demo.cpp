#include "demo.hpp"

#include <stdexcept>

namespace vigil::pipeline {

int runDemo(const DemoOptions&, const char*) { throw std::runtime_error("demo: not yet available"); }

}  // namespace vigil::pipeline
