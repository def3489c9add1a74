#include "runner.hpp"

#include "http_server.hpp"
#include "image_service.hpp"
#include "rtsp_server.hpp"
#include "source_session.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <glib-unix.h>
#include <gst/gst.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

namespace vigil::pipeline {

void ensurePluginLoaded() {
  vigil::gst::registerAnalysisMeta();
  GstRegistry* registry = gst_registry_get();
  if (gst::ObjectPtr<GstPlugin>(gst_registry_find_plugin(registry, "vigil"))) return;
  std::vector<std::filesystem::path> candidates;
  std::error_code ignored;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ignored);
  if (!exe.empty()) {
    candidates.push_back(exe.parent_path().parent_path() / "plugins");  // build tree
    candidates.push_back(exe.parent_path().parent_path() / "lib" / "gstreamer-1.0");
  }
#ifdef VIGIL_PLUGIN_BUILD_DIR
  candidates.emplace_back(VIGIL_PLUGIN_BUILD_DIR);  // benches and tools deeper in the build tree
#endif
#ifdef VIGIL_PLUGIN_INSTALL_DIR
  candidates.emplace_back(VIGIL_PLUGIN_INSTALL_DIR);
#endif
  for (const auto& dir : candidates) {
    if (std::filesystem::exists(dir / "libgstvigil.so", ignored)) {
      gst_registry_scan_path(registry, dir.c_str());
      if (gst::ObjectPtr<GstPlugin>(gst_registry_find_plugin(registry, "vigil"))) return;
    }
  }
}

std::string validateAnalyticOption(const std::string& element, const std::string& property,
                                   const std::string& value) {
  gst::ObjectPtr<GstElementFactory> factory(gst_element_factory_find(element.c_str()));
  if (!factory) {
    return "element '" + element + "' is not available (Vigil's plugin libgstvigil.so was not found or lacks it)";
  }
  gst::ElementPtr instance = gst::adoptFloating(gst_element_factory_create(factory.get(), nullptr));
  if (!instance) return "cannot create element '" + element + "'";
  GObjectClass* klass = G_OBJECT_GET_CLASS(instance.get());
  GParamSpec* spec = g_object_class_find_property(klass, property.c_str());
  std::string option = property;
  std::replace(option.begin(), option.end(), '-', '_');
  if (!spec || spec->owner_type == GST_TYPE_OBJECT || spec->owner_type == G_TYPE_OBJECT) {
    // List what the element does offer, in config spelling.
    guint count = 0;
    GParamSpec** specs = g_object_class_list_properties(klass, &count);
    std::string known;
    for (guint i = 0; i < count; ++i) {
      if (specs[i]->owner_type == GST_TYPE_OBJECT || specs[i]->owner_type == G_TYPE_OBJECT ||
          specs[i]->owner_type == GST_TYPE_ELEMENT || specs[i]->owner_type == GST_TYPE_BASE_TRANSFORM ||
          !(specs[i]->flags & G_PARAM_WRITABLE)) {
        continue;
      }
      std::string name = specs[i]->name;
      std::replace(name.begin(), name.end(), '-', '_');
      known += (known.empty() ? "" : ", ") + name;
    }
    g_free(specs);
    return "unknown option '" + option + "' for " + element + " (known: " + known + ")";
  }
  if (!(spec->flags & G_PARAM_WRITABLE)) return "option '" + option + "' is read-only";
  GValue parsed = G_VALUE_INIT;
  g_value_init(&parsed, spec->value_type);
  if (!gst_value_deserialize(&parsed, value.c_str())) {
    g_value_unset(&parsed);
    std::string expected = g_type_name(spec->value_type);
    if (G_IS_PARAM_SPEC_ENUM(spec)) {
      GEnumClass* enums = G_PARAM_SPEC_ENUM(spec)->enum_class;
      expected = "one of";
      for (guint i = 0; i < enums->n_values; ++i) expected += std::string(i ? ", " : " ") + enums->values[i].value_nick;
    }
    return "'" + value + "' is not a valid value for '" + option + "' (expected " + expected + ")";
  }
  const bool out_of_range = g_param_value_validate(spec, &parsed);
  g_value_unset(&parsed);
  if (out_of_range) return "'" + value + "' is out of range for '" + option + "'";
  return "";
}

struct Runner::State {
  gst::MainLoopPtr loop{g_main_loop_new(nullptr, FALSE)};
  std::vector<std::unique_ptr<SourceSession>> sessions;
  std::unique_ptr<RtspServer> rtsp_server;
  std::unique_ptr<OutputServer> outputs;
  std::unique_ptr<ImageService> images;  // outlives http_server, which serves it
  std::unique_ptr<HttpServer> http_server;
  std::size_t finished = 0;
  bool stopping = false;
  bool interrupted = false;
  guint deadline = 0;

  void stopAll() {
    if (stopping) return;
    stopping = true;
    for (auto& session : sessions) session->stop();
    // Only the image API: no session will report that it finished. Quit
    // from an idle on the loop's context, not here: a stop requested before
    // g_main_loop_run() starts would otherwise be lost (run() clears it).
    if (sessions.empty()) {
      g_idle_add_full(
          G_PRIORITY_DEFAULT,
          [](gpointer data) -> gboolean {
            g_main_loop_quit(static_cast<GMainLoop*>(data));
            return G_SOURCE_REMOVE;
          },
          g_main_loop_ref(loop.get()), reinterpret_cast<GDestroyNotify>(g_main_loop_unref));
    }
  }
};

Runner::Runner(Config config) : config_(std::move(config)), state_(std::make_unique<State>()) {}
Runner::~Runner() = default;

void Runner::requestStop() {
  g_main_context_invoke(
      nullptr,
      [](gpointer data) -> gboolean {
        auto* state = static_cast<State*>(data);
        state->interrupted = true;
        state->stopAll();
        return G_SOURCE_REMOVE;
      },
      state_.get());
}

int Runner::run(const RunOptions& options) {
  State& state = *state_;
  bool wants_rtsp = false;
  for (const auto& source : config_.sources) {
    for (const auto& output : source.outputs) wants_rtsp = wants_rtsp || output.type == OutputConfig::Type::kRtsp;
  }
  if (wants_rtsp) {
    state.rtsp_server = std::make_unique<RtspServer>(config_.rtsp_server.address, config_.rtsp_server.port);
    state.outputs = std::make_unique<OutputServer>(*state.rtsp_server);
  }

  // Signals first: a SIGINT during start-up must still stop cleanly.
  guint sigint = g_unix_signal_add(SIGINT, [](gpointer data) -> gboolean {
    auto* s = static_cast<State*>(data);
    spdlog::info("interrupted: stopping all sources");
    s->interrupted = true;
    s->stopAll();
    return G_SOURCE_CONTINUE;
  }, &state);
  guint sigterm = g_unix_signal_add(SIGTERM, [](gpointer data) -> gboolean {
    auto* s = static_cast<State*>(data);
    spdlog::info("terminated: stopping all sources");
    s->interrupted = true;
    s->stopAll();
    return G_SOURCE_CONTINUE;
  }, &state);
  auto on_finished = [&state](SourceSession&) {
    if (++state.finished == state.sessions.size()) g_main_loop_quit(state.loop.get());
  };
  int failures = 0;
  for (const auto& source : config_.sources) {
    auto session = std::make_unique<SourceSession>(source, config_.bus, state.outputs.get(), on_finished);
    SourceSession* raw = session.get();
    state.sessions.push_back(std::move(session));
    try {
      raw->start();
    } catch (const std::exception& error) {
      // One bad source never stops the others.
      spdlog::error("[{}] cannot start: {}", source.id, error.what());
      ++failures;
      ++state.finished;
    }
  }
  if (state.rtsp_server) {
    state.rtsp_server->start();
    rtsp_port_ = state.rtsp_server->port();
    spdlog::info("RTSP server listening on {}:{}", config_.rtsp_server.address, rtsp_port_.load());
    for (const auto& source : config_.sources) {
      for (const auto& output : source.outputs) {
        if (output.type == OutputConfig::Type::kRtsp) {
          spdlog::info("[{}] anonymized stream at {}", source.id, state.rtsp_server->url(output.path));
        }
      }
    }
  }
  if (config_.http.enabled) {
    // Snapshot requests reach the sessions from the HTTP threads; the server
    // is stopped before the sessions go.
    std::set<std::string> ids;
    std::map<std::string, SnapshotTarget> targets;
    for (const auto& session : state.sessions) {
      ids.insert(session->id());
      const OutputConfig* output = session->snapshotOutput();
      if (!output) continue;
      SourceSession* raw = session.get();
      targets[session->id()] = SnapshotTarget{[raw] { return raw->snapshotSample(); }, output->path,
                                              snapshotFormatNamed(output->format).value_or(SnapshotFormat::kJpeg)};
    }
    try {
      if (config_.images.enabled) state.images = std::make_unique<ImageService>(config_.images);
      state.http_server =
          std::make_unique<HttpServer>(config_.http, std::move(ids), std::move(targets), state.images.get());
      state.http_server->start();
    } catch (const std::exception&) {
      state.stopAll();
      g_source_remove(sigint);
      g_source_remove(sigterm);
      throw;
    }
    http_port_ = state.http_server->port();
    spdlog::info("HTTP snapshots at {}/sources/ID/snapshot.jpg", state.http_server->url());
    if (state.images) spdlog::info("image API at {}/v1/analyze (upload form at /)", state.http_server->url());
  }
  if (!state.sessions.empty() && state.finished == state.sessions.size()) {
    g_source_remove(sigint);
    g_source_remove(sigterm);
    spdlog::error("no source could start");
    return 1;
  }

  if (options.duration) {
    state.deadline = g_timeout_add(static_cast<guint>(options.duration->count()), [](gpointer data) -> gboolean {
      auto* s = static_cast<State*>(data);
      s->deadline = 0;
      spdlog::info("run duration reached: stopping all sources");
      s->stopAll();
      return G_SOURCE_REMOVE;
    }, &state);
  }
  if (options.on_started) {
    std::vector<std::string> endpoints;
    for (const auto& session : state.sessions) endpoints.push_back(session->boundEndpoint());
    options.on_started(endpoints);
  }

  g_main_loop_run(state.loop.get());

  g_source_remove(sigint);
  g_source_remove(sigterm);
  if (state.deadline) g_source_remove(state.deadline);
  state.deadline = 0;
  if (state.http_server) state.http_server->stop();
  state.http_server.reset();
  state.images.reset();
  http_port_ = -1;
  rtsp_port_ = -1;
  summary_.interrupted = state.interrupted;
  for (const auto& session : state.sessions) {
    const auto stats = session->stats();
    summary_.sources.push_back({session->id(), stats.frames_in, stats.reconnects, stats.last_recovery_seconds,
                                session->failed(), session->failure()});
    failures += session->failed() ? 1 : 0;
  }
  state.sessions.clear();
  state.rtsp_server.reset();
  if (!waitForSourceTeardowns(std::chrono::seconds(2))) {
    spdlog::warn("{} source pipeline(s) did not shut down in time (an rtspsrc teardown can hang); exiting anyway",
                 sourceTeardownsInFlight());
  }
  return failures ? 1 : 0;
}

}  // namespace vigil::pipeline
