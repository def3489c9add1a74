// Local HTTP peers for the notifier: a webhook receiver and a fake Telegram
// Bot API (sendMessage, getUpdates), both cpp-httplib on 127.0.0.1 port 0.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::testing {

struct ReceivedPost {
  nlohmann::json body;
  std::chrono::steady_clock::time_point at;
  std::int64_t wall_ns = 0;
};

// Serves in its own thread from construction to destruction.
class HttpPeer {
 public:
  HttpPeer() = default;
  virtual ~HttpPeer() { stop(); }
  int port() const { return port_; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

 protected:
  void start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    // Bound before the thread starts: early connections wait in the backlog.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  httplib::Server server_;

 private:
  int port_ = 0;
  std::thread thread_;
};

class WebhookReceiver : public HttpPeer {
 public:
  // `delay`: how long each response takes (a slow peer, to test isolation).
  explicit WebhookReceiver(std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
    server_.Post("/hook", [this, delay](const httplib::Request& request, httplib::Response& response) {
      if (delay.count() > 0) {
        std::unique_lock<std::mutex> lock(mutex_);
        closing_.wait_for(lock, delay, [this] { return closed_; });
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        posts_.push_back({nlohmann::json::parse(request.body, nullptr, false),
                          std::chrono::steady_clock::now(), wallNow()});
      }
      response.set_content("{}", "application/json");
    });
    start();
  }
  ~WebhookReceiver() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    closing_.notify_all();
    stop();
  }
  std::string url() const { return origin() + "/hook"; }
  std::vector<ReceivedPost> posts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_;
  }
  std::size_t count(const std::string& type) const {
    std::size_t n = 0;
    for (const auto& post : posts()) n += post.body.value("type", "") == type;
    return n;
  }
  static std::int64_t wallNow() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable closing_;
  bool closed_ = false;
  std::vector<ReceivedPost> posts_;
};

class FakeTelegram : public HttpPeer {
 public:
  struct Message {
    std::string token;
    std::int64_t chat_id = 0;
    std::string text;
  };

  FakeTelegram() {
    server_.Post(R"(/bot([^/]+)/sendMessage)", [this](const httplib::Request& request, httplib::Response& response) {
      const auto body = nlohmann::json::parse(request.body, nullptr, false);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        sent_.push_back({request.matches[1], body.value("chat_id", std::int64_t{0}), body.value("text", "")});
      }
      const std::int64_t chat = body.value("chat_id", std::int64_t{0});
      if (failing(chat)) {
        // As some proxies and API errors do: the description quotes the request path (token included).
        response.status = 400;
        response.set_content(nlohmann::json{{"ok", false}, {"description", "Bad Request: chat not found for " + request.path}}.dump(),
                             "application/json");
        return;
      }
      response.set_content(R"({"ok":true,"result":{"message_id":1}})", "application/json");
    });
    server_.Get(R"(/bot([^/]+)/getUpdates)", [this](const httplib::Request& request, httplib::Response& response) {
      const std::int64_t offset = request.has_param("offset") ? std::stoll(request.get_param_value("offset")) : 0;
      std::unique_lock<std::mutex> lock(mutex_);
      // As Telegram: an offset confirms every update before it, for good.
      updates_.erase(std::remove_if(updates_.begin(), updates_.end(),
                                    [&](const nlohmann::json& update) {
                                      return update["update_id"].get<std::int64_t>() < offset;
                                    }),
                     updates_.end());
      // A short long-poll: answer at once when an update is queued.
      updated_.wait_for(lock, std::chrono::milliseconds(100), [&] { return closed_ || hasFrom(offset); });
      nlohmann::json result = nlohmann::json::array();
      for (const auto& update : updates_) {
        if (update["update_id"].get<std::int64_t>() >= offset) result.push_back(update);
      }
      response.set_content(nlohmann::json{{"ok", true}, {"result", result}}.dump(), "application/json");
    });
    start();
  }
  ~FakeTelegram() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    updated_.notify_all();
    stop();
  }

  void pushCommand(std::int64_t chat_id, const std::string& text) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      updates_.push_back({{"update_id", next_id_++},
                          {"message", {{"message_id", 1}, {"chat", {{"id", chat_id}, {"type", "private"}}}, {"text", text}}}});
    }
    updated_.notify_all();
  }
  // sendMessage to this chat fails with an error that echoes the URL.
  void failChat(std::int64_t chat_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    failing_.push_back(chat_id);
  }
  std::vector<Message> sent() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return sent_;
  }
  std::vector<Message> sentTo(std::int64_t chat_id) const {
    std::vector<Message> result;
    for (const auto& message : sent()) {
      if (message.chat_id == chat_id) result.push_back(message);
    }
    return result;
  }

 private:
  bool failing(std::int64_t chat_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::find(failing_.begin(), failing_.end(), chat_id) != failing_.end();
  }
  bool hasFrom(std::int64_t offset) const {
    for (const auto& update : updates_) {
      if (update["update_id"].get<std::int64_t>() >= offset) return true;
    }
    return false;
  }

  mutable std::mutex mutex_;
  std::condition_variable updated_;
  bool closed_ = false;
  std::vector<Message> sent_;
  std::vector<std::int64_t> failing_;
  std::vector<nlohmann::json> updates_;
  std::int64_t next_id_ = 1;
};

}  // namespace vigil::testing
