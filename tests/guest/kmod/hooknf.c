// SPDX-License-Identifier: GPL-2.0
/*
 * hooknf - a test rootkit for argus's Kernel Function Hooked: a netfilter
 * hook and a notifier block whose handlers are in a module that hides
 * itself.
 *
 * insmod hooknf.ko [nf=1] [dev=IFNAME] [chain=module] [hide=1]
 * nf=1 registers an IPv4 LOCAL_IN netfilter hook on init_net (it counts
 * the packets it sees, parameter hits, and accepts them all); dev= also
 * an ingress hook of the netdev family on that device of init_net (the
 * per-device hooks, net_device.nf_hooks_ingress); chain= one
 * of module, reboot, die, netdev (none: "") registers a notifier block on
 * that chain (module_notify_list, reboot_notifier_list, die_chain,
 * netdev_chain); with hide=1 the module then hides itself (rkit.h), with
 * hide=2 from mod_tree too (only module memory knows it then).
 * The handlers' addresses are in the parameters nf_handler and
 * nb_handler, and in the kernel log.
 *
 * Built for arm64 as hooknf64 (arm64/hooknf64.c): its module, /proc entry and
 * kernel log lines are hooknf64's.
 *
 * echo 1 >/proc/hooknf unregisters both and links a hidden module back
 * into the lists (it then cannot be unloaded); rmmod of a listed one
 * unregisters them.  For testing only; loaded in a disposable test guest.
 */
#include <linux/kdebug.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/notifier.h>
#include <linux/proc_fs.h>
#include <linux/reboot.h>
#include <net/net_namespace.h>

#include "rkit.h"

static int nf = 1;
module_param(nf, int, 0444);
static char *chain = "module";
module_param(chain, charp, 0444);
static int hide = 1;
module_param(hide, int, 0444);
static char *dev = "";
module_param(dev, charp, 0444);
static ulong hits;
module_param(hits, ulong, 0444);
static ulong nf_handler, nb_handler;
module_param(nf_handler, ulong, 0444);
module_param(nb_handler, ulong, 0444);

static bool nf_on, nb_on, in_on;

static unsigned int hnf_hook(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	hits++;
	return NF_ACCEPT;
}

static struct nf_hook_ops ops = {
	.hook = hnf_hook,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_LOCAL_IN,
	.priority = NF_IP_PRI_FIRST,
};

static struct nf_hook_ops in_ops = {
	.hook = hnf_hook,
	.pf = NFPROTO_NETDEV,
	.hooknum = NF_NETDEV_INGRESS,
	.priority = 0,
};

static int nb_call(struct notifier_block *nb, unsigned long action, void *data)
{
	return NOTIFY_DONE;
}

static struct notifier_block nb = { .notifier_call = nb_call };

static int nb_register(void)
{
	if (!strcmp(chain, "module"))
		return register_module_notifier(&nb);
	if (!strcmp(chain, "reboot"))
		return register_reboot_notifier(&nb);
	if (!strcmp(chain, "die"))
		return register_die_notifier(&nb);
	if (!strcmp(chain, "netdev"))
		return register_netdevice_notifier(&nb);
	return -EINVAL;
}

static void nb_unregister(void)
{
	if (!strcmp(chain, "module"))
		unregister_module_notifier(&nb);
	else if (!strcmp(chain, "reboot"))
		unregister_reboot_notifier(&nb);
	else if (!strcmp(chain, "die"))
		unregister_die_notifier(&nb);
	else if (!strcmp(chain, "netdev"))
		unregister_netdevice_notifier(&nb);
}

static void remove_all(void)
{
	if (nf_on)
		nf_unregister_net_hook(&init_net, &ops);
	if (nb_on)
		nb_unregister();
	if (in_on) {
		nf_unregister_net_hook(&init_net, &in_ops);
		dev_put(in_ops.dev);
	}
	nf_on = nb_on = in_on = false;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	remove_all();
	rkit_tree_insert();
	rkit_unhide();
	pr_info(KBUILD_MODNAME ": hooks removed, module listed\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hooknf_init(void)
{
	int ret;

	nf_handler = (ulong)hnf_hook;
	nb_handler = (ulong)nb_call;
	if (hide && !proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops))
		return -ENOMEM;
	if (nf) {
		ret = nf_register_net_hook(&init_net, &ops);
		if (ret)
			goto fail;
		nf_on = true;
	}
	if (*dev) {
		in_ops.dev = dev_get_by_name(&init_net, dev);
		ret = -ENODEV;
		if (!in_ops.dev)
			goto fail;
		ret = nf_register_net_hook(&init_net, &in_ops);
		if (ret) {
			dev_put(in_ops.dev);
			goto fail;
		}
		in_on = true;
	}
	if (*chain) {
		ret = nb_register();
		if (ret)
			goto fail;
		nb_on = true;
	}
	pr_info(KBUILD_MODNAME ": nf %lx dev %s chain %s nb %lx\n", nf_on || in_on ? nf_handler : 0,
		in_on ? dev : "-", chain, nb_on ? nb_handler : 0);
	if (hide == 2 && (ret = rkit_tree_erase()))
		goto fail;
	if (hide && (ret = rkit_hide())) {
		rkit_tree_insert();
		goto fail;
	}
	return 0;
fail:
	remove_all();
	if (hide)
		remove_proc_entry(KBUILD_MODNAME, NULL);
	return ret;
}

static void __exit hooknf_exit(void)
{
	remove_all();
	if (hide)
		remove_proc_entry(KBUILD_MODNAME, NULL);
}

module_init(hooknf_init);
module_exit(hooknf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a netfilter hook and a notifier in a hidden module");
