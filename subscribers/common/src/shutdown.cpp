#include "vigil/subscribers/shutdown.hpp"

#include <atomic>
#include <csignal>

namespace vigil::subscribers {

namespace {

// Lock-free so that the signal handler may write it.
std::atomic<bool> g_shutdown{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void onShutdownSignal(int) { g_shutdown.store(true); }

}  // namespace

void installShutdownHandlers() {
  struct sigaction action {};
  action.sa_handler = onShutdownSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A webhook peer closing its socket must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // A file-size limit (RLIMIT_FSIZE) then fails the write like a full disk:
  // reported and retried by the recorder instead of killing it.
  std::signal(SIGXFSZ, SIG_IGN);
}

bool shutdownRequested() { return g_shutdown.load(); }

void requestShutdown() { g_shutdown.store(true); }

}  // namespace vigil::subscribers
