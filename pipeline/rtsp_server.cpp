#include "rtsp_server.hpp"

#include "vigil/gst/ptr.hpp"

#include <gst/rtsp-server/rtsp-server.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace vigil::pipeline {

struct RtspServer::State {
  std::string address;
  int requested_port = 0;
  int bound_port = -1;
  std::map<std::string, std::pair<std::string, bool>> mounts;  // path -> launch, shared

  GMainContext* context = nullptr;
  gst::MainLoopPtr loop;
  std::thread thread;
  GstRTSPServer* server = nullptr;  // owned; touched only on the server thread
  guint source_id = 0;
  std::mutex mutex;

  // Runs `work` on the server's own thread and waits for it.
  void invoke(const std::function<void()>& work) {
    struct Call {
      const std::function<void()>* work;
      std::mutex mutex;
      std::condition_variable done_cv;
      bool done = false;
    } call{&work, {}, {}, false};
    g_main_context_invoke(
        context,
        [](gpointer data) -> gboolean {
          auto* c = static_cast<Call*>(data);
          (*c->work)();
          std::lock_guard<std::mutex> lock(c->mutex);
          c->done = true;
          c->done_cv.notify_all();
          return G_SOURCE_REMOVE;
        },
        &call);
    std::unique_lock<std::mutex> lock(call.mutex);
    call.done_cv.wait(lock, [&] { return call.done; });
  }

  void addMount(GstRTSPServer* target, const std::string& path, const std::string& launch, bool shared) {
    gst::GObjectPtr<GstRTSPMountPoints> points(gst_rtsp_server_get_mount_points(target));
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(factory, launch.c_str());
    gst_rtsp_media_factory_set_shared(factory, shared);
    gst_rtsp_mount_points_add_factory(points.get(), path.c_str(), factory);  // takes the factory
  }
};

RtspServer::RtspServer(std::string address, int port) : state_(std::make_unique<State>()) {
  state_->address = std::move(address);
  state_->requested_port = port;
  state_->context = g_main_context_new();
  state_->loop.reset(g_main_loop_new(state_->context, FALSE));
  state_->thread = std::thread([s = state_.get()] {
    g_main_context_push_thread_default(s->context);
    g_main_loop_run(s->loop.get());
    g_main_context_pop_thread_default(s->context);
  });
}

RtspServer::~RtspServer() {
  stop();
  g_main_loop_quit(state_->loop.get());
  state_->thread.join();
  g_main_context_unref(state_->context);
}

void RtspServer::mount(const std::string& path, const std::string& launch, bool shared) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->mounts[path] = {launch, shared};
  State* s = state_.get();
  s->invoke([&] {
    if (s->server) s->addMount(s->server, path, launch, shared);
  });
}

void RtspServer::start() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  State* s = state_.get();
  std::string error;
  s->invoke([&] {
    if (s->server) return;
    GstRTSPServer* server = gst_rtsp_server_new();
    gst_rtsp_server_set_address(server, s->address.c_str());
    // After a stop(), come back on the same port, as a camera would.
    const int port = s->bound_port > 0 ? s->bound_port : s->requested_port;
    gst_rtsp_server_set_service(server, std::to_string(port).c_str());
    for (const auto& [path, mount] : s->mounts) s->addMount(server, path, mount.first, mount.second);
    GError* raw = nullptr;
    s->source_id = gst_rtsp_server_attach(server, s->context);
    if (s->source_id == 0) {
      // attach() hides the reason; create the socket ourselves to report it.
      gst::GObjectPtr<GSocket> socket(gst_rtsp_server_create_socket(server, nullptr, &raw));
      gst::ErrorPtr failure(raw);
      error = "cannot serve RTSP on " + s->address + ":" + std::to_string(port) + ": " +
              std::string(failure ? failure->message : "unknown error");
      g_object_unref(server);
      return;
    }
    s->server = server;
    s->bound_port = gst_rtsp_server_get_bound_port(server);
  });
  if (!error.empty()) throw std::runtime_error(error);
}

void RtspServer::stop() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  State* s = state_.get();
  s->invoke([&] {
    if (!s->server) return;
    // Close every client, so their sessions end as if the camera went away.
    gst_rtsp_server_client_filter(
        s->server,
        [](GstRTSPServer*, GstRTSPClient* client, gpointer) {
          gst_rtsp_client_close(client);
          return GST_RTSP_FILTER_REMOVE;
        },
        nullptr);
    if (GSource* source = g_main_context_find_source_by_id(s->context, s->source_id)) g_source_destroy(source);
    s->source_id = 0;
    g_object_unref(s->server);
    s->server = nullptr;
  });
}

int RtspServer::port() const { return state_->bound_port; }

std::string RtspServer::url(const std::string& mount) const {
  return "rtsp://" + state_->address + ":" + std::to_string(state_->bound_port) + mount;
}

std::string RtspServer::fileLaunch(const std::string& path) {
  gst::CharPtr quoted(g_strescape(path.c_str(), nullptr));
  const bool mp4 = path.size() > 4 && path.compare(path.size() - 4, 4, ".mp4") == 0;
  return std::string("( filesrc location=\"") + quoted.get() + "\" ! " + (mp4 ? "qtdemux" : "matroskademux") +
         " ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )";
}

std::string OutputServer::addMount(const std::string& source_id, const std::string& mount, int bitrate_kbps) {
  const std::string channel = "vigil-rtsp-" + source_id;
  server_.mount(mount,
                "( intervideosrc channel=" + channel +
                    " ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=" +
                    std::to_string(bitrate_kbps) + " key-int-max=30 ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
                true);
  return channel;
}

}  // namespace vigil::pipeline
