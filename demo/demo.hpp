// `vigil demo`: everything a new user needs to see Vigil work, from nothing.
#pragma once

#include <string>

namespace vigil::pipeline {

struct DemoOptions {
  std::string workdir = "/tmp/vigil-demo";
  int seconds = 20;
};

int runDemo(const DemoOptions& options, const char* argv0);

}  // namespace vigil::pipeline
