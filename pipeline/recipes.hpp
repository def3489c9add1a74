// Recipes of the *analytics pipeline* of one source: appsrc, the analysers
// named in the config in their order, eventpublish, and a tee feeding the
// output branches (a fakesink, recordings, RTSP re-serve, snapshots), each on
// its own queue. Built once per session; it never restarts.
#pragma once

#include "config.hpp"
#include "vigil/gst/ptr.hpp"

namespace vigil::pipeline {

class OutputServer;

// The pipeline and the elements the session drives.
struct AnalyticsPipeline {
  gst::ElementPtr pipeline;
  gst::ElementPtr appsrc;         // frames from the source pipeline go in here
  gst::ElementPtr publish;        // eventpublish: status events, bound endpoint
  gst::ElementPtr snapshot_sink;  // the `snapshot` output's sink, or null
};

// Builds, without starting, the analytics pipeline of `source`. Throws
// ConfigError for a property an analytic refuses, std::runtime_error for a
// missing element, a link that fails or an unusable output.
AnalyticsPipeline buildAnalyticsPipeline(const SourceConfig& source, const BusConfig& bus, OutputServer* rtsp_outputs);

}  // namespace vigil::pipeline
