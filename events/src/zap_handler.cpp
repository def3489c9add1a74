#include "zap_handler.hpp"

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <cstring>

namespace vigil::events {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr std::string_view kZapVersion = "1.0";
// How often the thread looks at the stop flag while no client knocks.
constexpr std::chrono::milliseconds kStopPoll{100};
// At most one log line per interval: a client retrying with a wrong key
// (ZeroMQ reconnects every few hundred ms) must not flood the log.
constexpr std::chrono::seconds kLogInterval{1};
// Enough of the key to tell clients apart in a log, not a whole key.
constexpr std::size_t kLoggedKeyPrefix = 8;

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, std::set<CurveKey> authorized, std::vector<AddressRange> allow,
                       std::function<void(const std::string&)> on_refused)
    : socket_(context, zmq::socket_type::rep),
      authorized_(std::move(authorized)),
      allow_(std::move(allow)),
      on_refused_(std::move(on_refused)) {
  if (!on_refused_) on_refused_ = [](const std::string& message) { spdlog::warn("{}", message); };
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(kZapEndpoint);
  // Starting the thread is the full barrier ZeroMQ asks for before a socket
  // moves to another thread.
  thread_ = std::thread([this] { run(); });
}

ZapHandler::~ZapHandler() {
  stopping_ = true;
  thread_.join();
}

void ZapHandler::run() {
  while (!stopping_) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, kStopPoll) <= 0) continue;
      std::vector<zmq::message_t> request;
      if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) continue;
      answer(request);
    } catch (const zmq::error_t& error) {
      if (error.num() == ETERM) return;
    }
  }
}

void ZapHandler::answer(const std::vector<zmq::message_t>& request) {
  // version, request id, domain, address, identity, mechanism, credentials...
  const bool well_formed = request.size() >= 6 && request[0].to_string_view() == kZapVersion;
  const std::string address = request.size() > 3 ? request[3].to_string() : "";
  const std::string mechanism = request.size() > 5 ? request[5].to_string() : "";
  bool allowed = false;
  std::string reason;
  std::string key_prefix = "-";
  if (!well_formed) {
    reason = "malformed ZAP request";
  } else if (mechanism != "CURVE" || request.size() < 7 || request[6].size() != CurveKey{}.size()) {
    reason = "mechanism " + mechanism + " (only CURVE clients are let in)";
  } else {
    CurveKey key{};
    std::memcpy(key.data(), request[6].data(), key.size());
    key_prefix = z85Text(key).substr(0, kLoggedKeyPrefix);
    if (authorized_.count(key) == 0) {
      reason = "key not in the authorized keys";
    } else if (!addressAllowed(address, allow_)) {
      reason = "address not in bus.curve.allow";
    } else {
      allowed = true;
    }
  }
  const std::string status = allowed ? "200" : "400";
  const std::string text = allowed ? "OK" : reason;
  const std::string request_id = request.size() > 1 ? request[1].to_string() : "";
  std::vector<zmq::const_buffer> reply{zmq::buffer(kZapVersion), zmq::buffer(request_id), zmq::buffer(status),
                                       zmq::buffer(text), zmq::buffer(std::string_view()),
                                       zmq::buffer(std::string_view())};
  zmq::send_multipart(socket_, reply);
  if (allowed) {
    accepted_.fetch_add(1);
    return;
  }
  refused_.fetch_add(1);
  const auto now = std::chrono::steady_clock::now();
  if (last_log_ != std::chrono::steady_clock::time_point{} && now - last_log_ < kLogInterval) {
    ++unlogged_;
    return;
  }
  std::string message = "bus: refused client key " + key_prefix + "… from " + (address.empty() ? "?" : address) +
                        ": " + reason;
  if (unlogged_ > 0) message += " (and " + std::to_string(unlogged_) + " more refused since the last report)";
  last_log_ = now;
  unlogged_ = 0;
  on_refused_(message);
}

}  // namespace vigil::events
