// SIGINT/SIGTERM handling for the subscriber processes: the handler only sets
// an atomic flag, which the main loops poll between bounded waits.
#pragma once

namespace vigil::subscribers {

// Installs the handlers (idempotent). Call once at the top of main().
void installShutdownHandlers();

// True once SIGINT or SIGTERM arrived (or requestShutdown() was called).
bool shutdownRequested();

void requestShutdown();

}  // namespace vigil::subscribers
