#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define VIGIL_TYPE_EVENT_PUBLISH (vigil_event_publish_get_type())
G_DECLARE_FINAL_TYPE(VigilEventPublish, vigil_event_publish, VIGIL, EVENT_PUBLISH, GstBaseTransform)

G_END_DECLS
