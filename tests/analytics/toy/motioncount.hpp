// Test-only toy element `motioncount`: counts moving regions per frame on
// VigilAnalyser. Its row joins the analytics table at run time (add()), so the
// production table, plugin and runner stay untouched.
#pragma once

#include "vigil/analytics/registry.hpp"

namespace vigil::toy {

inline constexpr analytics::Analytic kMotion{"motion", "motioncount", "motion", "motion", analytics::Pixels::kRead};

// Adds kMotion to the analytics table and registers the element with
// GStreamer (as a static element of this process). Idempotent.
void registerMotionAnalytic();

}  // namespace vigil::toy
