/* relp.h - RELP (the Reliable Event Logging Protocol, rsyslog's imrelp)
 * through librelp: every frame is acknowledged by the receiver; librelp
 * keeps the frames not yet acknowledged (up to its window, 128) and
 * resends them when the session is re-established, so a receiver that
 * restarts loses nothing (it may see a frame twice: one it took but had
 * not acknowledged when it went away).
 */
#ifndef ARGUS_RELP_H
#define ARGUS_RELP_H

#include <stddef.h>

struct relp;

/* Open the session, or re-establish it (resending what was not
 * acknowledged).  -1 with why filled when the peer cannot be reached. */
int relp_open(struct relp **r, const char *host, const char *port, char *why, size_t cap);
/* One syslog message; 0 once librelp has sent it (it is acknowledged
 * later, or resent by relp_open); -1 when the session broke: the message
 * was not taken and must be sent again after relp_open. */
int relp_send(struct relp *r, const char *msg, size_t len, char *why, size_t cap);
/* Close the session (waiting, up to the timeout, for the last
 * acknowledgements) and free everything. */
void relp_close(struct relp *r);

#endif
