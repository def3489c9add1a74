#include "vigil/subscribers/receive.hpp"

#include <zmq.hpp>

#include <cerrno>

namespace vigil::subscribers {

std::optional<events::Received> nextEvent(events::Subscriber& subscriber,
                                          std::chrono::milliseconds timeout) {
  try {
    return subscriber.next(timeout);
  } catch (const zmq::error_t& error) {
    if (error.num() == EINTR) return std::nullopt;
    throw;
  }
}

}  // namespace vigil::subscribers
