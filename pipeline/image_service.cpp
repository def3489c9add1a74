#include "image_service.hpp"

#include "vigil/analytics/registry.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace vigil::pipeline {

namespace {

constexpr std::chrono::seconds kWebhookFirstRetry{1};
constexpr std::time_t kWebhookTimeoutSeconds = 10;

std::string newBatchId() {
  static std::mutex mutex;
  static std::mt19937_64 generator{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  std::ostringstream id;
  id << std::hex << generator() << generator();
  return id.str().substr(0, 24);
}

// The report keys of the analytics asked for: their event kinds.
nlohmann::json only(const nlohmann::json& report, const std::vector<std::string>& analytics) {
  nlohmann::json kept = nlohmann::json::object();
  for (const auto& [key, value] : report.items()) {
    const analytics::Analytic* row = analytics::byEventKind(key);
    if (row && std::find(analytics.begin(), analytics.end(), row->name) == analytics.end()) continue;
    kept[key] = value;
  }
  return kept;
}

struct Batch {
  struct Item {
    std::string name;
    std::string state = "queued";  // queued, done, failed
    nlohmann::json report;
    std::string error;
    int status = 0;
    std::vector<unsigned char> image;  // redacted, when the batch asked for it
  };
  std::string id;
  std::vector<std::string> analytics;
  std::optional<StillFormat> format;
  std::vector<Item> items;
  std::size_t finished = 0;
  std::chrono::system_clock::time_point created;
  std::chrono::steady_clock::time_point completed;
  bool done() const { return finished == items.size(); }
};

}  // namespace

struct ImageService::Impl {
  ImagesConfig config;
  std::vector<std::string> configured;  // analytic names, in pipeline order
  std::unique_ptr<StillAnalyser> analyser;

  // The queue: jobs waiting, plus those in work, never above config.queue.
  mutable std::mutex mutex;
  std::condition_variable work_ready;
  std::deque<std::function<void()>> jobs;
  std::size_t in_work = 0;
  bool stopping = false;
  std::vector<std::thread> workers;

  std::map<std::string, std::shared_ptr<Batch>> batches;  // under mutex

  // Webhook deliveries, on a thread of their own (retries wait there).
  std::mutex webhook_mutex;
  std::condition_variable webhook_ready;
  std::deque<std::string> webhook_bodies;
  std::thread webhook_thread;

  // Reserves `count` places or throws QueueFull.
  void admit(std::size_t count, std::vector<std::function<void()>> work) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      const std::size_t used = jobs.size() + in_work;
      const std::size_t capacity = static_cast<std::size_t>(config.queue);
      if (used + count > capacity) {
        throw QueueFull("the image queue is full (" + std::to_string(used) + " of " + std::to_string(capacity) +
                        " images waiting or in work); retry later");
      }
      for (auto& job : work) jobs.push_back(std::move(job));
    }
    work_ready.notify_all();
  }

  void workerLoop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      work_ready.wait(lock, [&] { return stopping || !jobs.empty(); });
      if (stopping) return;
      std::function<void()> job = std::move(jobs.front());
      jobs.pop_front();
      ++in_work;
      lock.unlock();
      job();  // catches its own exceptions
      lock.lock();
      --in_work;
    }
  }

  void sweepExpired() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = batches.begin(); it != batches.end();) {
      if (it->second->done() && now - it->second->completed > config.result_ttl) {
        it = batches.erase(it);
      } else {
        ++it;
      }
    }
  }

  nlohmann::json statusOf(const Batch& batch) const {
    nlohmann::json status = {{"id", batch.id},
                             {"state", batch.done() ? "done" : (batch.finished > 0 ? "running" : "queued")},
                             {"total", batch.items.size()},
                             {"finished", batch.finished},
                             {"analytics", batch.analytics}};
    std::size_t failed = 0;
    nlohmann::json results = nlohmann::json::array();
    for (std::size_t i = 0; i < batch.items.size(); ++i) {
      const Batch::Item& item = batch.items[i];
      nlohmann::json entry = {{"index", i}, {"name", item.name}, {"state", item.state}};
      if (item.state == "done") {
        entry.update(item.report);
        if (!item.image.empty()) entry["download"] = "/v1/batches/" + batch.id + "/images/" + std::to_string(i);
      } else if (item.state == "failed") {
        ++failed;
        entry["error"] = item.error;
        entry["status"] = item.status;
      }
      results.push_back(std::move(entry));
    }
    status["failed"] = failed;
    if (batch.done()) {
      const auto left = config.result_ttl - (std::chrono::steady_clock::now() - batch.completed);
      status["expires_in_s"] = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(left).count());
    }
    status["results"] = std::move(results);
    return status;
  }

  void runBatchItem(const std::shared_ptr<Batch>& batch, std::size_t index, std::string bytes) {
    Batch::Item result;
    try {
      StillResult still = analyser->analyse(bytes, batch->format.has_value());
      result.report = only(still.report, batch->analytics);
      if (batch->format) result.image = encodeStill(still.redacted, *batch->format);
      result.state = "done";
    } catch (const ImageError& error) {
      result.state = "failed";
      result.error = error.what();
      result.status = error.status();
    } catch (const std::exception& error) {
      result.state = "failed";
      result.error = error.what();
      result.status = 500;
    }
    std::string finished_status;
    {
      std::lock_guard<std::mutex> lock(mutex);
      Batch::Item& item = batch->items[index];
      item.state = result.state;
      item.report = std::move(result.report);
      item.error = std::move(result.error);
      item.status = result.status;
      item.image = std::move(result.image);
      ++batch->finished;
      if (batch->done()) {
        batch->completed = std::chrono::steady_clock::now();
        if (!config.webhook_url.empty()) finished_status = statusOf(*batch).dump();
      }
    }
    if (!finished_status.empty()) {
      {
        std::lock_guard<std::mutex> lock(webhook_mutex);
        webhook_bodies.push_back(std::move(finished_status));
      }
      webhook_ready.notify_all();
    }
  }

  // Delivers each finished batch's status; a failure (no answer, or not 2xx)
  // is retried with doubling waits, `webhook_retries` times.
  void webhookLoop() {
    const auto slash = config.webhook_url.find('/', config.webhook_url.find("://") + 3);
    const std::string origin = config.webhook_url.substr(0, slash);
    const std::string path = slash == std::string::npos ? "/" : config.webhook_url.substr(slash);
    std::unique_lock<std::mutex> lock(webhook_mutex);
    while (true) {
      webhook_ready.wait(lock, [&] { return stopping || !webhook_bodies.empty(); });
      if (stopping) return;
      const std::string body = std::move(webhook_bodies.front());
      webhook_bodies.pop_front();
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kWebhookFirstRetry);
      for (int attempt = 0; attempt <= config.webhook_retries && !stopping; ++attempt) {
        lock.unlock();
        httplib::Client client(origin);
        client.set_connection_timeout(kWebhookTimeoutSeconds, 0);
        client.set_read_timeout(kWebhookTimeoutSeconds, 0);
        const auto answer = client.Post(path.c_str(), body, "application/json");
        const bool delivered = answer && answer->status >= 200 && answer->status < 300;
        lock.lock();
        if (delivered) break;
        spdlog::warn("image webhook {}: {} (attempt {} of {})", origin + path,
                     answer ? "HTTP " + std::to_string(answer->status) : httplib::to_string(answer.error()),
                     attempt + 1, config.webhook_retries + 1);
        if (attempt < config.webhook_retries) {
          webhook_ready.wait_for(lock, wait, [&] { return stopping; });
          wait *= 2;
        }
      }
    }
  }
};

ImageService::ImageService(ImagesConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  StillOptions options;
  options.analytics = impl_->config.analytics.empty() ? stillAnalyticsNamed("faces,codes,plates")
                                                      : impl_->config.analytics;
  // Redactors last, as in a source and as `vigil analyze` orders them.
  std::stable_sort(options.analytics.begin(), options.analytics.end(), [](const auto& a, const auto& b) {
    auto redacts = [](const AnalyticConfig& c) {
      const analytics::Analytic* row = analytics::byName(c.name);
      return row && row->pixels == analytics::Pixels::kRedact;
    };
    return !redacts(a) && redacts(b);
  });
  for (const auto& analytic : options.analytics) impl_->configured.push_back(analytic.name);
  options.anonymize = true;  // /v1/anonymize and batches may ask for the redacted image
  options.redaction_properties = impl_->config.redaction;
  options.max_pixels = impl_->config.max_pixels;
  options.spares = impl_->config.workers;
  impl_->analyser = std::make_unique<StillAnalyser>(std::move(options));
  for (int i = 0; i < impl_->config.workers; ++i) impl_->workers.emplace_back([impl = impl_.get()] { impl->workerLoop(); });
  if (!impl_->config.webhook_url.empty()) impl_->webhook_thread = std::thread([impl = impl_.get()] { impl->webhookLoop(); });
}

ImageService::~ImageService() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    std::lock_guard<std::mutex> webhook_lock(impl_->webhook_mutex);
    impl_->stopping = true;
  }
  impl_->work_ready.notify_all();
  impl_->webhook_ready.notify_all();
  for (auto& worker : impl_->workers) worker.join();
  if (impl_->webhook_thread.joinable()) impl_->webhook_thread.join();
  // Jobs still queued hold promises: dropping them answers their waiters
  // with broken_promise, which analyse() reports as an error.
  impl_->jobs.clear();
}

const ImagesConfig& ImageService::config() const { return impl_->config; }

std::vector<std::string> ImageService::chooseAnalytics(const std::string& names) const {
  if (names.find_first_not_of(" ,") == std::string::npos) return impl_->configured;
  std::vector<std::string> chosen;
  for (const AnalyticConfig& analytic : stillAnalyticsNamed(names)) {  // throws on an unknown name
    if (std::find(impl_->configured.begin(), impl_->configured.end(), analytic.name) == impl_->configured.end()) {
      throw std::invalid_argument("analytic '" + analytic.name + "' is not enabled here (images.analytics)");
    }
    chosen.push_back(analytic.name);
  }
  return chosen;
}

StillResult ImageService::analyse(std::string bytes, const std::vector<std::string>& analytics, bool redacted) {
  // Refused input is answered before it takes a place in the queue.
  const ImageHeader header = readImageHeader(bytes);
  if (std::int64_t(header.width) * header.height > impl_->config.max_pixels) {
    decodeImage(bytes, impl_->config.max_pixels);  // throws the pixel-limit error
  }
  auto promise = std::make_shared<std::promise<StillResult>>();
  std::future<StillResult> future = promise->get_future();
  auto shared_bytes = std::make_shared<std::string>(std::move(bytes));
  std::vector<std::function<void()>> work;
  work.emplace_back([this, promise, shared_bytes, redacted] {
    try {
      promise->set_value(impl_->analyser->analyse(*shared_bytes, redacted));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  impl_->admit(1, std::move(work));
  StillResult result = future.get();
  result.report = only(result.report, analytics);
  return result;
}

std::string ImageService::submitBatch(std::vector<NamedImage> images, const std::vector<std::string>& analytics,
                                      std::optional<StillFormat> format) {
  if (images.empty()) throw std::invalid_argument("a batch needs at least one image");
  if (images.size() > static_cast<std::size_t>(impl_->config.max_batch)) {
    throw std::invalid_argument("a batch holds at most " + std::to_string(impl_->config.max_batch) + " images; got " +
                                std::to_string(images.size()));
  }
  auto batch = std::make_shared<Batch>();
  batch->id = newBatchId();
  batch->analytics = analytics;
  batch->format = format;
  batch->created = std::chrono::system_clock::now();
  std::vector<std::function<void()>> work;
  for (std::size_t i = 0; i < images.size(); ++i) {
    Batch::Item item;
    item.name = images[i].name;
    batch->items.push_back(std::move(item));
    auto bytes = std::make_shared<std::string>(std::move(images[i].bytes));
    work.emplace_back([this, batch, i, bytes] { impl_->runBatchItem(batch, i, std::move(*bytes)); });
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->sweepExpired();
    impl_->batches[batch->id] = batch;
  }
  try {
    const std::size_t count = work.size();  // before `work` is moved into the call
    impl_->admit(count, std::move(work));
  } catch (const QueueFull&) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->batches.erase(batch->id);
    throw;
  }
  return batch->id;
}

std::optional<nlohmann::json> ImageService::batchStatus(const std::string& id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->sweepExpired();
  const auto found = impl_->batches.find(id);
  if (found == impl_->batches.end()) return std::nullopt;
  return impl_->statusOf(*found->second);
}

std::optional<std::pair<std::vector<unsigned char>, std::string>> ImageService::batchImage(const std::string& id,
                                                                                          std::size_t index) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->sweepExpired();
  const auto found = impl_->batches.find(id);
  if (found == impl_->batches.end() || index >= found->second->items.size()) return std::nullopt;
  const Batch& batch = *found->second;
  if (!batch.format || batch.items[index].image.empty()) return std::nullopt;
  return std::make_pair(batch.items[index].image, std::string(stillMimeType(*batch.format)));
}

std::size_t ImageService::pending() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->jobs.size() + impl_->in_work;
}

}  // namespace vigil::pipeline
