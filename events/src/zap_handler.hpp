// The ZAP handler of one ZeroMQ context (RFC 27): a REP socket on
// inproc://zeromq.zap.01, on its own thread, that ZeroMQ asks about every
// CURVE client of every server socket in the context before it is let in.
#pragma once

#include "vigil/events/curve.hpp"

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vigil::events {

class ZapHandler {
 public:
  // Binds the handler in `context` (before any server socket of it binds).
  ZapHandler(zmq::context_t& context, std::set<CurveKey> authorized, std::vector<AddressRange> allow,
             std::function<void(const std::string&)> on_refused);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  std::uint64_t refused() const { return refused_.load(); }
  std::uint64_t accepted() const { return accepted_.load(); }

 private:
  void run();
  void answer(const std::vector<zmq::message_t>& request);

  zmq::socket_t socket_;
  std::set<CurveKey> authorized_;
  std::vector<AddressRange> allow_;
  std::function<void(const std::string&)> on_refused_;
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<bool> stopping_{false};
  // ZAP-thread only: the log rate limit.
  std::chrono::steady_clock::time_point last_log_{};
  std::uint64_t unlogged_ = 0;
  std::thread thread_;
};

}  // namespace vigil::events
