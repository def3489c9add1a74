// What a subscriber lost, recovered from the publisher's history and refused
// as untrusted, as log lines: the same words in the recorder and the notifier.
#pragma once

#include "vigil/events/subscriber.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace vigil::subscribers {

class RecoveryLog {
 public:
  // Logs the events `subscriber` refuses as untrusted (rate-limited: whoever
  // forges them must not flood the log), and the connections the publisher's
  // security refused (a wrong or unauthorized CURVE key).
  explicit RecoveryLog(events::Subscriber& subscriber);

  // Call for every event handed out, in order: logs restarts, losses and, once
  // per stretch, the events recovered by replay.
  void note(const events::Received& received);

 private:
  struct Stretch {
    std::uint64_t first = 0, last = 0, count = 0;
  };
  void endStretch(const std::string& topic);

  std::map<std::string, Stretch> recovering_;  // topic -> replayed events not yet reported
  std::uint64_t untrusted_ = 0;
  std::uint64_t handshake_failures_ = 0;
};

}  // namespace vigil::subscribers
