#include "service/relp.h"

#include <librelp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct relp {
	relpEngine_t *eng;
	relpClt_t *clt;		/* NULL: no session yet (or the first connect failed) */
	char err[160];		/* librelp's last words */
};

static void no_debug(char *fmt, ...)
{
	(void)fmt;
}

static void on_err(void *usr, char *obj, char *msg, relpRetVal code)
{
	struct relp *r = usr;

	if (r)
		snprintf(r->err, sizeof(r->err), "%s: %s (librelp %d)", obj, msg, (int)code);
}

static void why_set(struct relp *r, relpRetVal rc, char *why, size_t cap)
{
	if (r->err[0])
		snprintf(why, cap, "%s", r->err);
	else
		snprintf(why, cap, "librelp error %d", (int)rc);
	r->err[0] = '\0';
}

int relp_open(struct relp **rp, const char *host, const char *port, char *why, size_t cap)
{
	struct relp *r = *rp;
	relpRetVal rc;

	if (!r) {
		if (!(r = calloc(1, sizeof(*r))) || relpEngineConstruct(&r->eng) != RELP_RET_OK) {
			free(r);
			snprintf(why, cap, "cannot start librelp");
			return -1;
		}
		relpEngineSetDbgprint(r->eng, no_debug);	/* librelp calls it unset */
		relpEngineSetDnsLookupMode(r->eng, 0);
		relpEngineSetEnableCmd(r->eng, (unsigned char *)"syslog", eRelpCmdState_Required);
		relpEngineSetOnErr(r->eng, on_err);
		*rp = r;
	}
	if (r->clt) {
		/* the session broke: a new connection, the unacknowledged frames resent */
		rc = relpCltReconnect(r->clt);
		if (rc != RELP_RET_OK) {
			why_set(r, rc, why, cap);
			return -1;
		}
		return 0;
	}
	if ((rc = relpEngineCltConstruct(r->eng, &r->clt)) != RELP_RET_OK) {
		why_set(r, rc, why, cap);
		return -1;
	}
	relpCltSetUsrPtr(r->clt, r);
	relpCltSetTimeout(r->clt, 5);		/* s, for an acknowledgement */
	relpCltSetConnTimeout(r->clt, 2);
	rc = relpCltConnect(r->clt, 0, (unsigned char *)port, (unsigned char *)host);
	if (rc != RELP_RET_OK) {
		/* no session was made: nothing to resend, start over next time */
		why_set(r, rc, why, cap);
		relpEngineCltDestruct(r->eng, &r->clt);
		r->clt = NULL;
		return -1;
	}
	return 0;
}

int relp_send(struct relp *r, const char *msg, size_t len, char *why, size_t cap)
{
	relpRetVal rc = relpCltSendSyslog(r->clt, (unsigned char *)msg, len);

	if (rc == RELP_RET_OK)
		return 0;
	why_set(r, rc, why, cap);
	return -1;
}

void relp_close(struct relp *r)
{
	if (!r)
		return;
	if (r->clt)
		relpEngineCltDestruct(r->eng, &r->clt);
	relpEngineDestruct(&r->eng);
	free(r);
}
