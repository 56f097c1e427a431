/* privdrop.c - run as an unprivileged user once sources and sinks are open.
 *
 * argus needs root (or the RAM file's owner) to open the guest's memory
 * and its log folders, and nothing after that: a scan only reads through
 * descriptors and mappings it already holds.  privdrop() hands the log
 * folders (and the files in them) to the user, so rotation and SIGHUP
 * reopen keep working, then gives up supplementary groups, gid and uid,
 * sets no_new_privs, and checks that no capability is left (but
 * CAP_SYS_PTRACE when auto_scan must open VMs that start later) and that
 * root cannot be taken back.  Any failure is an error: a service configured to
 * run unprivileged never runs privileged by accident.
 */
#include "service/privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int privdrop_lookup(const char *user, uid_t *uid, gid_t *gid, struct aerr *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);

	if (r || !res)
		return aerr_set(err, r ? r : ENOENT, "user '%s' does not exist", user);
	if (!res->pw_uid)
		return aerr_set(err, EINVAL, "user '%s' is root: nothing would be dropped", user);
	*uid = res->pw_uid;
	*gid = res->pw_gid;
	return 0;
}

/* The folder and the regular files directly in it. */
static int hand_over(const char *dir, uid_t uid, gid_t gid, struct aerr *err)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	if (!dir || !*dir)
		return 0;
	if (chown(dir, uid, gid))
		return aerr_set(err, errno, "cannot give %s to uid %u: %s", dir, (unsigned)uid,
				strerror(errno));
	d = opendir(dir);
	if (!d)
		return aerr_set(err, errno, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		struct stat st;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (chown(path, uid, gid)) {
			int e2 = errno;
			closedir(d);
			return aerr_set(err, e2, "cannot give %s to uid %u: %s", path, (unsigned)uid,
					strerror(e2));
		}
	}
	closedir(d);
	return 0;
}

/* Capabilities held beyond `allowed` (a mask of the first 32). */
static int caps_left(uint32_t allowed)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &h, data))
		return -1;
	return ((data[0].effective | data[0].permitted | data[0].inheritable) & ~allowed) ||
	       data[1].effective || data[1].permitted || data[1].inheritable;
}

/* Effective and permitted: only CAP_SYS_PTRACE (after setuid with
 * PR_SET_KEEPCAPS, the permitted set still holds everything). */
static int only_ptrace(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = 1u << CAP_SYS_PTRACE;
	return (int)syscall(SYS_capset, &h, data);
}

int privdrop(const char *user, const char *const *folders, size_t nfolders, int keep_ptrace,
	     struct aerr *err)
{
	uid_t uid;
	gid_t gid;
	int ret = privdrop_lookup(user, &uid, &gid, err);

	if (ret)
		return ret;
	for (size_t i = 0; i < nfolders; i++)
		if ((ret = hand_over(folders[i], uid, gid, err)))
			return ret;
	if (keep_ptrace && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return aerr_set(err, errno, "cannot keep CAP_SYS_PTRACE: %s", strerror(errno));
	if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
		return aerr_set(err, errno, "cannot become user '%s': %s", user, strerror(errno));
	if (keep_ptrace && (only_ptrace() || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)))
		return aerr_set(err, errno, "cannot keep only CAP_SYS_PTRACE: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return aerr_set(err, errno, "cannot set no_new_privs: %s", strerror(errno));
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return aerr_set(err, EPERM, "still not user '%s' after setuid", user);
	if (!setuid(0) || !seteuid(0))
		return aerr_set(err, EPERM, "root could be taken back after dropping to '%s'", user);
	if (caps_left(keep_ptrace ? 1u << CAP_SYS_PTRACE : 0))
		return aerr_set(err, EPERM, "capabilities are left after dropping to '%s'", user);
	return 0;
}
