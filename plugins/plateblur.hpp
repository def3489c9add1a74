#pragma once

#include "vigil/gst/analyser.hpp"

G_BEGIN_DECLS

#define VIGIL_TYPE_PLATE_BLUR (vigil_plate_blur_get_type())
G_DECLARE_FINAL_TYPE(VigilPlateBlur, vigil_plate_blur, VIGIL, PLATE_BLUR, VigilAnalyser)

#define VIGIL_TYPE_PLATE_BLUR_MODE (vigil_plate_blur_mode_get_type())
GType vigil_plate_blur_mode_get_type(void);
#define VIGIL_TYPE_PLATE_BLUR_FAIL_MODE (vigil_plate_blur_fail_mode_get_type())
GType vigil_plate_blur_fail_mode_get_type(void);

G_END_DECLS
