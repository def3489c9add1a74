// `facecount`: counts faces, overall and per named zone, for queue monitoring.
#pragma once

#include "vigil/gst/analyser.hpp"

G_BEGIN_DECLS

#define VIGIL_TYPE_FACE_COUNT (vigil_face_count_get_type())
G_DECLARE_FINAL_TYPE(VigilFaceCount, vigil_face_count, VIGIL, FACE_COUNT, VigilAnalyser)

// Enum types of the element's properties (registered so gst-inspect lists the nicks).
#define VIGIL_TYPE_FACE_BACKEND (vigil_face_backend_get_type())
GType vigil_face_backend_get_type(void);
#define VIGIL_TYPE_FACE_TILING (vigil_face_tiling_get_type())
GType vigil_face_tiling_get_type(void);
#define VIGIL_TYPE_FACE_TILE_SCAN (vigil_face_tile_scan_get_type())
GType vigil_face_tile_scan_get_type(void);
#define VIGIL_TYPE_FACE_EMIT (vigil_face_emit_get_type())
GType vigil_face_emit_get_type(void);

G_END_DECLS
