#include "vigil/notifier/sinks.hpp"

#include "vigil/events/schema.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

extern char** environ;

namespace vigil::notifier {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStopCheck{20};       // waits re-check the stop flag this often
constexpr milliseconds kPollErrorBackoff{1000};
constexpr int kHttpOk = 200;
constexpr int kHttpMultipleChoices = 300;
constexpr int kHttpTooManyRequests = 429;
constexpr milliseconds kPollSlack{5000};     // read timeout beyond the long-poll wait
constexpr milliseconds kChildReapStep{5};
constexpr std::size_t kMaxLoggedMessage = 1000;  // bytes of a notification in one log line

// Sleeps up to `duration`, returning early (false) once stopping.
bool pause(milliseconds duration, const std::atomic<bool>& stopping) {
  const auto until = Clock::now() + duration;
  while (Clock::now() < until) {
    if (stopping) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(kStopCheck, until - Clock::now()));
  }
  return !stopping;
}

// Text from Telegram or the HTTP client with the bot token cut out (an error
// may echo the request URL, which holds it), on one safe line.
std::string withoutToken(std::string text, const std::string& token) {
  if (!token.empty()) {
    for (auto at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
      text.replace(at, token.size(), "***");
    }
  }
  return events::logSafe(text);
}

// "https://api.example:8443/base/path" -> {"https://api.example:8443", "/base/path"}.
std::pair<std::string, std::string> splitUrl(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (path_start == std::string::npos) return {url, ""};
  return {url.substr(0, path_start), url.substr(path_start)};
}

std::unique_ptr<httplib::Client> makeClient(const std::string& origin, milliseconds timeout) {
  auto client = std::make_unique<httplib::Client>(origin);
  const auto seconds = static_cast<time_t>(timeout.count() / 1000);
  const auto micros = static_cast<time_t>((timeout.count() % 1000) * 1000);
  client->set_connection_timeout(seconds, micros);
  client->set_read_timeout(seconds, micros);
  client->set_write_timeout(seconds, micros);
  return client;
}

// Runs `attempt` with retries and exponential backoff. `attempt` returns
// nullopt on success, else the wait the server asked for (or zero).
template <typename Attempt>
bool withRetries(const SinkConfig& config, const std::atomic<bool>& stopping, Attempt&& attempt) {
  milliseconds backoff = config.backoff;
  for (int tries = 0;; ++tries) {
    const std::optional<milliseconds> asked = attempt();
    if (!asked) return true;
    if (tries >= config.retries || stopping) return false;
    const milliseconds wait = std::min(std::max(backoff, *asked), config.backoff_max);
    if (!pause(wait, stopping)) return false;
    backoff = std::min(backoff * 2, config.backoff_max);
  }
}

class LogSink : public Sink {
 public:
  bool deliver(const Notification& n, const std::atomic<bool>&) override {
    // Messages quote code texts and status details from the bus: one line each,
    // whatever they contain (no forged lines, no terminal escapes).
    const std::string line = events::logSafe(n.message, kMaxLoggedMessage);
    if (n.type == Notification::Type::kAlert) {
      spdlog::warn("{}", line);
    } else {
      spdlog::info("{}", line);
    }
    return true;
  }
};

class StdoutSink : public Sink {
 public:
  bool deliver(const Notification& n, const std::atomic<bool>&) override {
    const std::string line = n.toJson() + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    return true;
  }
};

class WebhookSink : public Sink {
 public:
  explicit WebhookSink(const SinkConfig& config) : config_(config) {
    std::tie(origin_, path_) = splitUrl(config.url);
    if (path_.empty()) path_ = "/";
  }

  bool deliver(const Notification& n, const std::atomic<bool>& stopping) override {
    const std::string body = n.toJson();
    httplib::Headers headers(config_.headers.begin(), config_.headers.end());
    return withRetries(config_, stopping, [&]() -> std::optional<milliseconds> {
      auto client = makeClient(origin_, config_.timeout);
      auto result = client->Post(path_.c_str(), headers, body, "application/json");
      if (result && result->status >= kHttpOk && result->status < kHttpMultipleChoices) return std::nullopt;
      spdlog::warn("webhook sink '{}': {} (alert {})", config_.name,
                   result ? "HTTP " + std::to_string(result->status) : httplib::to_string(result.error()),
                   n.alert_id);
      return milliseconds(0);
    });
  }

 private:
  SinkConfig config_;
  std::string origin_, path_;
};

class TelegramSink : public Sink {
 public:
  explicit TelegramSink(const SinkConfig& config) : config_(config) {
    std::tie(origin_, prefix_) = splitUrl(config.base_url);
  }

  bool deliver(const Notification& n, const std::atomic<bool>& stopping) override {
    const auto& chats = n.chat_ids.empty() ? config_.chat_ids : n.chat_ids;
    if (chats.empty()) {
      spdlog::warn("telegram sink '{}': no chat id to send to", config_.name);
      return false;
    }
    bool all = true;
    for (const auto chat : chats) all = send(chat, n.message, stopping) && all;
    return all;
  }

  bool send(std::int64_t chat_id, const std::string& text, const std::atomic<bool>& stopping) {
    // The token is part of the path: it is never logged.
    const std::string path = prefix_ + "/bot" + config_.token + "/sendMessage";
    const std::string body = nlohmann::json{{"chat_id", chat_id}, {"text", text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return withRetries(config_, stopping, [&]() -> std::optional<milliseconds> {
      auto client = makeClient(origin_, config_.timeout);
      auto result = client->Post(path.c_str(), body, "application/json");
      if (!result) {
        spdlog::warn("telegram sink '{}': {}", config_.name,
                     withoutToken(httplib::to_string(result.error()), config_.token));
        return milliseconds(0);
      }
      const auto reply = nlohmann::json::parse(result->body, nullptr, false);
      if (result->status == kHttpOk && reply.is_object() && reply.value("ok", false)) return std::nullopt;
      milliseconds asked{0};
      if (result->status == kHttpTooManyRequests && reply.is_object() && reply.contains("parameters")) {
        const auto& parameters = reply["parameters"];
        if (parameters.is_object() && parameters.contains("retry_after") && parameters["retry_after"].is_number_integer()) {
          // Capped by backoff_max anyway; clamped here so the product cannot overflow.
          asked = milliseconds(std::clamp<std::int64_t>(parameters["retry_after"].get<std::int64_t>(), 0, 86'400) * 1000);
        }
      }
      const auto description = reply.is_object() && reply.contains("description") && reply["description"].is_string()
                                   ? reply["description"].get<std::string>()
                                   : std::string();
      spdlog::warn("telegram sink '{}': HTTP {} for chat {}: {}", config_.name, result->status, chat_id,
                   withoutToken(description, config_.token));
      return asked;
    });
  }

 private:
  SinkConfig config_;
  std::string origin_, prefix_;
};

class CommandSink : public Sink {
 public:
  explicit CommandSink(const SinkConfig& config) : config_(config) {}

  bool deliver(const Notification& n, const std::atomic<bool>& stopping) override {
    std::vector<std::string> env_storage;
    for (char** entry = environ; *entry; ++entry) {
      // The child gets no bot token: whatever it runs need not be trusted with it.
      const std::string_view variable(*entry);
      const std::string_view name = variable.substr(0, variable.find('='));
      if (std::find(config_.hidden_env.begin(), config_.hidden_env.end(), name) != config_.hidden_env.end()) continue;
      env_storage.emplace_back(variable);
    }
    env_storage.push_back("VIGIL_NOTIFICATION=" + n.toJson());
    env_storage.push_back(std::string("VIGIL_TYPE=") + (n.type == Notification::Type::kAlert ? "alert" : "clear"));
    env_storage.push_back("VIGIL_RULE=" + n.rule);
    env_storage.push_back("VIGIL_SOURCE=" + n.source);
    env_storage.push_back("VIGIL_ZONE=" + n.zone);
    env_storage.push_back("VIGIL_ALERT_ID=" + n.alert_id);
    env_storage.push_back("VIGIL_MESSAGE=" + n.message);
    std::vector<char*> env;
    for (auto& item : env_storage) env.push_back(item.data());
    env.push_back(nullptr);
    std::vector<std::string> argv_storage = config_.command;
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);

    return withRetries(config_, stopping, [&]() -> std::optional<milliseconds> {
      pid_t pid = -1;
      if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), env.data()) != 0) {
        spdlog::warn("command sink '{}': cannot run {}", config_.name, config_.command.front());
        return milliseconds(0);
      }
      const auto deadline = Clock::now() + config_.timeout;
      int status = 0;
      for (;;) {
        const pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (Clock::now() >= deadline) {
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          spdlog::warn("command sink '{}': {} timed out after {} ms", config_.name,
                       config_.command.front(), config_.timeout.count());
          return milliseconds(0);
        }
        std::this_thread::sleep_for(kChildReapStep);
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::nullopt;
      spdlog::warn("command sink '{}': {} failed (status {})", config_.name,
                   config_.command.front(), status);
      return milliseconds(0);
    });
  }

 private:
  SinkConfig config_;
};

}  // namespace

std::unique_ptr<Sink> makeSink(const SinkConfig& config) {
  switch (config.type) {
    case SinkType::kLog: return std::make_unique<LogSink>();
    case SinkType::kStdout: return std::make_unique<StdoutSink>();
    case SinkType::kWebhook: return std::make_unique<WebhookSink>(config);
    case SinkType::kTelegram: return std::make_unique<TelegramSink>(config);
    case SinkType::kCommand: return std::make_unique<CommandSink>(config);
  }
  return nullptr;
}

struct Dispatcher::Worker {
  SinkConfig config;
  std::unique_ptr<Sink> sink;
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable idle;
  std::deque<Notification> queue;
  bool busy = false;
  bool closing = false;
  std::atomic<bool> stopping{false};
  SinkStats stats;
  std::thread thread;

  explicit Worker(const SinkConfig& sink_config) : config(sink_config), sink(makeSink(sink_config)) {
    thread = std::thread([this] { run(); });
  }

  void push(Notification n) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (queue.size() >= config.queue_capacity) {
        queue.pop_front();
        ++stats.dropped;
      }
      queue.push_back(std::move(n));
      ++stats.queued;
    }
    wake.notify_one();
  }

  void run() {
    for (;;) {
      Notification n;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return closing || !queue.empty(); });
        if (queue.empty() || stopping) break;
        n = std::move(queue.front());
        queue.pop_front();
        busy = true;
      }
      bool ok = false;
      try {
        ok = sink->deliver(n, stopping);
      } catch (const std::exception& error) {
        spdlog::error("sink '{}': {}", config.name, error.what());
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        busy = false;
        ok ? ++stats.delivered : ++stats.failed;
      }
      if (!ok) spdlog::error("sink '{}' gave up on {} ({})", config.name, n.alert_id, n.message);
      idle.notify_all();
    }
    idle.notify_all();
  }

  void drain(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex);
    idle.wait_until(lock, deadline, [&] { return queue.empty() && !busy; });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      closing = true;
      stopping = true;
    }
    wake.notify_all();
    if (thread.joinable()) thread.join();
  }
};

struct Dispatcher::Poller {
  SinkConfig config;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::vector<ChatCommand> commands;
  httplib::Client* active = nullptr;  // the client in a long poll, to interrupt it on stop
  std::thread thread;

  explicit Poller(const SinkConfig& sink_config) : config(sink_config) {
    thread = std::thread([this] { run(); });
  }

  void run() {
    const auto [origin, prefix] = splitUrl(config.base_url);
    std::int64_t offset = 0;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config.poll_timeout).count();
    while (!stopping) {
      auto client = makeClient(origin, config.poll_timeout + kPollSlack);
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (stopping) break;
        active = client.get();
      }
      const std::string path = prefix + "/bot" + config.token + "/getUpdates?timeout=" +
                               std::to_string(seconds) + "&offset=" + std::to_string(offset);
      auto result = client->Get(path.c_str());
      {
        std::lock_guard<std::mutex> lock(mutex);
        active = nullptr;
      }
      if (stopping) break;
      const auto reply = result && result->status == kHttpOk
                             ? nlohmann::json::parse(result->body, nullptr, false)
                             : nlohmann::json();
      if (!reply.is_object() || !reply.value("ok", false) || !reply["result"].is_array()) {
        spdlog::warn("telegram sink '{}': getUpdates failed ({})", config.name,
                     result ? "HTTP " + std::to_string(result->status)
                            : withoutToken(httplib::to_string(result.error()), config.token));
        pause(kPollErrorBackoff, stopping);
        continue;
      }
      for (const auto& update : reply["result"]) {
        // A field of an unexpected type throws in nlohmann::json; on this
        // thread that would end the process: such an update is skipped.
        try {
          offset = std::max<std::int64_t>(offset, update.value("update_id", std::int64_t{0}) + 1);
          if (!update.contains("message") || !update["message"].is_object()) continue;
          const auto& message = update["message"];
          const std::string text = message.value("text", std::string());
          if (text.empty() || text.front() != '/' || !message.contains("chat") || !message["chat"].is_object()) continue;
          std::lock_guard<std::mutex> lock(mutex);
          commands.push_back({config.name, message["chat"].value("id", std::int64_t{0}), text});
        } catch (const nlohmann::json::exception& error) {
          spdlog::warn("telegram sink '{}': skipped an update ({})", config.name, events::logSafe(error.what()));
        }
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      if (active) active->stop();
    }
    if (thread.joinable()) thread.join();
  }
};

Dispatcher::Dispatcher(const std::vector<SinkConfig>& sinks) {
  for (const auto& sink : sinks) {
    workers_[sink.name] = std::make_unique<Worker>(sink);
    if (sink.type == SinkType::kTelegram && sink.poll_updates) {
      pollers_.push_back(std::make_unique<Poller>(sink));
    }
  }
}

Dispatcher::~Dispatcher() { stop(milliseconds(0)); }

void Dispatcher::dispatch(const Notification& notification) {
  if (notification.sinks.empty()) {
    for (auto& [name, worker] : workers_) worker->push(notification);
    return;
  }
  for (const auto& name : notification.sinks) {
    auto it = workers_.find(name);
    if (it != workers_.end()) it->second->push(notification);
  }
}

void Dispatcher::reply(const std::string& sink, std::int64_t chat_id, const std::string& text) {
  auto it = workers_.find(sink);
  if (it == workers_.end()) return;
  Notification n;
  n.rule = "chat";
  n.message = text;
  n.chat_ids = {chat_id};
  it->second->push(std::move(n));
}

std::vector<ChatCommand> Dispatcher::takeCommands() {
  std::vector<ChatCommand> all;
  for (auto& poller : pollers_) {
    std::lock_guard<std::mutex> lock(poller->mutex);
    for (auto& command : poller->commands) all.push_back(std::move(command));
    poller->commands.clear();
  }
  return all;
}

void Dispatcher::stop(std::chrono::milliseconds timeout) {
  for (auto& poller : pollers_) poller->stop();
  pollers_.clear();
  const auto deadline = Clock::now() + timeout;
  for (auto& [name, worker] : workers_) worker->drain(deadline);
  for (auto& [name, worker] : workers_) worker->stop();
}

std::map<std::string, SinkStats> Dispatcher::stats() const {
  std::map<std::string, SinkStats> result;
  for (const auto& [name, worker] : workers_) {
    std::lock_guard<std::mutex> lock(worker->mutex);
    result[name] = worker->stats;
  }
  return result;
}

}  // namespace vigil::notifier
