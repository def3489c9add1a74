// Subscriber::next() for long-running processes: a signal arriving during the
// wait (SIGINT, SIGTERM) interrupts ZeroMQ's poll with EINTR; that is a
// timeout to the caller, who then checks shutdownRequested().
#pragma once

#include "vigil/events/subscriber.hpp"

#include <chrono>
#include <optional>

namespace vigil::subscribers {

std::optional<events::Received> nextEvent(events::Subscriber& subscriber,
                                          std::chrono::milliseconds timeout);

}  // namespace vigil::subscribers
