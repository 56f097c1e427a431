/* events.h - turn an activity record into a complete section 9 message. */
#ifndef ARGUS_EVENTS_H
#define ARGUS_EVENTS_H

#include "core/buf.h"
#include "detect/detect.h"
#include "output/message.h"

/* Append one JSON message (no trailing newline) for r to b. */
void event_format(struct buf *b, const struct msg_source *src, const struct act_rec *r);

#endif
