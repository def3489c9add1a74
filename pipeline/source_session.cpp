#include "source_session.hpp"

#include "recipes.hpp"
#include "sources.hpp"
#include "vigil/gst/message.hpp"

#include <gst/app/gstappsrc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace vigil::pipeline {

namespace {

constexpr guint kWatchdogTickMs = 250;
constexpr GstClockTime kDrainTimeout = 3 * GST_SECOND;

std::int64_t steadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SourceSession::SourceSession(SourceConfig source, BusConfig bus, OutputServer* rtsp_outputs,
                             std::function<void(SourceSession&)> on_finished)
    : source_(std::move(source)),
      bus_(std::move(bus)),
      rtsp_outputs_(rtsp_outputs),
      on_finished_(std::move(on_finished)),
      redacted_uri_(redactUri(source_.uri)),
      bridge_(std::make_shared<FrameBridge>()) {
  configureBridge(*bridge_, source_);
}

SourceSession::~SourceSession() {
  for (guint* id : {&watchdog_timer_, &restart_timer_, &analytics_watch_, &source_watch_}) {
    if (*id) g_source_remove(*id);
    *id = 0;
  }
  teardownSource();
  if (analytics_) gst_element_set_state(analytics_.get(), GST_STATE_NULL);
}

std::string SourceSession::redact(std::string text) const {
  // Error texts from rtspsrc and friends may quote the URI, credentials included.
  if (redacted_uri_ != source_.uri) {
    for (auto at = text.find(source_.uri); at != std::string::npos; at = text.find(source_.uri, at)) {
      text.replace(at, source_.uri.size(), redacted_uri_);
    }
    for (const std::string& secret : uriSecrets(source_.uri)) {
      if (secret.empty()) continue;
      for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), "***");
      }
    }
  }
  return text;
}

std::string SourceSession::boundEndpoint() const {
  if (!publish_) return "";
  gchar* endpoint = nullptr;
  g_object_get(publish_.get(), "bound-endpoint", &endpoint, nullptr);
  gst::CharPtr owned(endpoint);
  return owned ? owned.get() : "";
}

const OutputConfig* SourceSession::snapshotOutput() const {
  for (const OutputConfig& output : source_.outputs) {
    if (output.type == OutputConfig::Type::kSnapshot) return &output;
  }
  return nullptr;
}

gst::SamplePtr SourceSession::snapshotSample() const {
  if (!snapshot_sink_) return nullptr;
  GstSample* sample = nullptr;
  g_object_get(snapshot_sink_.get(), "last-sample", &sample, nullptr);  // basesink guards it with its lock
  return gst::SamplePtr(sample);
}

SourceSession::Stats SourceSession::stats() const {
  return Stats{bridge_->frame_counter.load(), reconnects_, last_recovery_seconds_};
}

void SourceSession::publishStatus(const char* state, const std::string& detail) {
  if (publish_) g_signal_emit_by_name(publish_.get(), "publish-status", state, redact(detail).c_str());
}

void SourceSession::start() {
  AnalyticsPipeline built = buildAnalyticsPipeline(source_, bus_, rtsp_outputs_);
  analytics_ = std::move(built.pipeline);
  appsrc_ = std::move(built.appsrc);
  publish_ = std::move(built.publish);
  snapshot_sink_ = std::move(built.snapshot_sink);
  bridge_->appsrc.reset(GST_ELEMENT(gst_object_ref(appsrc_.get())));
  gst::BusPtr bus(gst_element_get_bus(analytics_.get()));
  analytics_watch_ = gst_bus_add_watch(bus.get(), &SourceSession::onAnalyticsBus, this);
  if (gst_element_set_state(analytics_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The bus carries the reason (e.g. a model that failed to load).
    gst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
    std::string why = "the analytics pipeline did not start";
    if (message) {
      why = gst::errorText(message.get()).full();
    }
    throw std::runtime_error(source_.id + ": " + why);
  }
  bridge_->clock.reset(gst_element_get_clock(analytics_.get()));
  bridge_->base_time = gst_element_get_base_time(analytics_.get());
  spdlog::info("[{}] analytics started ({} analytics), publishing on {}", source_.id, source_.analytics.size(),
               boundEndpoint());
  watchdog_timer_ = g_timeout_add(kWatchdogTickMs, &SourceSession::onWatchdog, this);
  startSource();
}

void SourceSession::startSource() {
  restart_timer_ = 0;
  if (stopping_ || finished_) return;
  spdlog::info("[{}] opening {}", source_.id, redacted_uri_);
  try {
    source_pipeline_ = buildSourcePipeline(source_, bridge_);
  } catch (const std::exception& error) {
    teardownSource();
    scheduleRestart(error.what());
    return;
  }

  gst::BusPtr bus(gst_element_get_bus(source_pipeline_.get()));
  source_watch_ = gst_bus_add_watch(bus.get(), &SourceSession::onSourceBus, this);
  source_started_ = std::chrono::steady_clock::now();
  bridge_->frames_since_source_start = 0;
  if (gst_element_set_state(source_pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The error message on the bus says why; it arrives through onSourceBus.
    spdlog::warn("[{}] source did not start", source_.id);
  }
}

void SourceSession::teardownSource() {
  if (source_watch_) {
    g_source_remove(source_watch_);
    source_watch_ = 0;
  }
  if (source_pipeline_) {
    ++bridge_->generation;  // its streaming threads stop feeding us now
    disposeInBackground(std::move(source_pipeline_));
  }
}

void SourceSession::scheduleRestart(const std::string& reason) {
  if (stopping_ || finished_ || restart_timer_) return;
  teardownSource();
  if (!recovering_) {
    recovering_ = true;
    failure_detected_ = std::chrono::steady_clock::now();
  }
  // Capped exponential backoff: quick for a blip, gentle on a dead camera.
  const std::chrono::milliseconds backoff = source_.reconnect_initial * (1LL << std::min(restart_attempts_, 20));
  const std::chrono::milliseconds delay = std::min(source_.reconnect_max, backoff);
  ++restart_attempts_;
  ++reconnects_;
  spdlog::warn("[{}] {}; reconnecting in {} ms (attempt {})", source_.id, redact(reason), delay.count(),
               restart_attempts_);
  publishStatus("reconnecting", reason);
  restart_timer_ = g_timeout_add(static_cast<guint>(delay.count()), &SourceSession::onRestartTimer, this);
}

gboolean SourceSession::onRestartTimer(gpointer self) {
  static_cast<SourceSession*>(self)->startSource();
  return G_SOURCE_REMOVE;
}

// Once frames flow again after a failure: how long the source was gone, from
// the failure being detected to the first frame of the new source pipeline.
void SourceSession::noteRecovery() {
  if (!recovering_ || bridge_->frames_since_source_start.load() == 0) return;
  recovering_ = false;
  restart_attempts_ = 0;
  const auto first_frame = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(bridge_->first_frame_steady_ns.load()));
  last_recovery_seconds_ = std::chrono::duration<double>(first_frame - failure_detected_).count();
  spdlog::info("[{}] source back after {:.2f} s", source_.id, last_recovery_seconds_);
}

void SourceSession::finish(bool failed, const std::string& why) {
  if (finished_) return;
  noteRecovery();
  finished_ = true;
  failed_ = failed;
  failure_ = failed ? redact(why) : "";
  if (restart_timer_) g_source_remove(restart_timer_);
  restart_timer_ = 0;
  if (watchdog_timer_) g_source_remove(watchdog_timer_);
  watchdog_timer_ = 0;
  if (analytics_watch_) g_source_remove(analytics_watch_);
  analytics_watch_ = 0;
  teardownSource();
  if (failed) publishStatus("error", why);
  // NULL runs eventpublish's stop(): `stopped` is published and flushed.
  if (analytics_) gst_element_set_state(analytics_.get(), GST_STATE_NULL);
  if (failed) {
    spdlog::error("[{}] stopped: {}", source_.id, failure_);
  } else {
    spdlog::info("[{}] finished ({} frames, {} reconnects)", source_.id, bridge_->frame_counter.load(), reconnects_);
  }
  if (on_finished_) on_finished_(*this);
}

void SourceSession::stop() {
  if (finished_ || stopping_) return;
  stopping_ = true;
  noteRecovery();
  teardownSource();
  // Let the analytics drain what they hold, then stop. EOS travels through
  // the pipeline; wait for it on the bus, bounded.
  gst_app_src_end_of_stream(GST_APP_SRC(appsrc_.get()));
  gst::BusPtr bus(gst_element_get_bus(analytics_.get()));
  gst::MessagePtr done(gst_bus_timed_pop_filtered(bus.get(), kDrainTimeout,
                                                  static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
  finish(false, "");
}

gboolean SourceSession::onWatchdog(gpointer self) {
  auto* session = static_cast<SourceSession*>(self);
  if (session->finished_ || session->stopping_) return G_SOURCE_CONTINUE;
  if (!session->source_pipeline_) return G_SOURCE_CONTINUE;  // waiting for a restart
  const auto now = std::chrono::steady_clock::now();
  const std::uint64_t frames = session->bridge_->frames_since_source_start.load();
  session->noteRecovery();
  // No frame for `watchdog` since the last one (or since the start).
  const std::int64_t last = session->bridge_->last_frame_steady_ns.load();
  const auto since_start = now - session->source_started_;
  const auto since_frame = std::chrono::nanoseconds(steadyNowNs() - last);
  const auto quiet = frames > 0 ? std::min<std::chrono::nanoseconds>(since_frame, since_start) : since_start;
  if (quiet > session->source_.watchdog) {
    session->scheduleRestart("no frames for " + std::to_string(session->source_.watchdog.count()) + " ms");
  }
  return G_SOURCE_CONTINUE;
}

gboolean SourceSession::onSourceBus(GstBus*, GstMessage* message, gpointer self) {
  auto* session = static_cast<SourceSession*>(self);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      const gst::ErrorText error = gst::errorText(message);
      spdlog::debug("[{}] source error detail: {}", session->source_.id, session->redact(error.debug));
      session->scheduleRestart("source error: " + error.message);
      break;
    }
    case GST_MESSAGE_EOS:
      switch (session->source_.on_eos) {
        case EosPolicy::kStop:
          session->teardownSource();
          gst_app_src_end_of_stream(GST_APP_SRC(session->appsrc_.get()));  // finish() on analytics EOS
          break;
        case EosPolicy::kLoop:
          gst_element_seek_simple(session->source_pipeline_.get(), GST_FORMAT_TIME,
                                  static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
          break;
        case EosPolicy::kReconnect: session->scheduleRestart("end of stream from the source"); break;
      }
      break;
    case GST_MESSAGE_WARNING: {
      GError* raw = nullptr;
      gst_message_parse_warning(message, &raw, nullptr);
      gst::ErrorPtr warning(raw);
      spdlog::warn("[{}] {}", session->source_.id, session->redact(warning ? warning->message : ""));
      break;
    }
    default: break;
  }
  return G_SOURCE_CONTINUE;
}

gboolean SourceSession::onAnalyticsBus(GstBus*, GstMessage* message, gpointer self) {
  auto* session = static_cast<SourceSession*>(self);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      const std::string why = "analytics error: " + gst::errorText(message).full();
      session->analytics_watch_ = 0;
      session->finish(true, why);
      return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_EOS:
      session->analytics_watch_ = 0;
      session->finish(false, "");
      return G_SOURCE_REMOVE;
    default: break;
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace vigil::pipeline
