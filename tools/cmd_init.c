#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int cmd_init(ctl *c, int argc, char **argv)
{
	uint8_t pubkey[XF_PUBKEY_BYTES];
	char hex[XF_PUBKEY_HEX];
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_load_config(c)) != 0)
		return r;
	r = xf_store_init(c->cfg.data_dir, c->cfg.node_id, c->cfg.role, c->now_ms, pubkey);
	if (r == XF_EEXIST)
		return ctl_fail(c, "%s is already initialised", c->cfg.data_dir);
	if (r == XF_EUNSAFE)
		return ctl_fail(c, "%s: data dir must belong to this user and be closed to others (chmod 700)",
				c->cfg.data_dir);
	if (r < 0)
		return ctl_fail(c, "%s: %s", c->cfg.data_dir, xf_strerror(r));
	xf_pubkey_to_hex(pubkey, hex);
	printf("%s\n", hex);
	return EXIT_OK;
}

int cmd_key(ctl *c, int argc, char **argv)
{
	char hex[XF_PUBKEY_HEX];
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_load_config(c)) != 0 || (r = ctl_open_key(c)) != 0)
		return r;
	xf_pubkey_to_hex(xf_key_public(c->key), hex);
	printf("%s\n", hex);
	return EXIT_OK;
}

/* What the peers already enrolled say against enrolling NODE with PUBKEY
 * as RELATION: one key speaks for one node, and a node has one upstream. */
struct clash {
	const char *node, *relation;
	const uint8_t *pubkey;
	char with[XF_NODE_ID_MAX + 1];
	bool same_key, second_upstream;
};

static int find_clash(const xf_peer *p, void *vctx)
{
	struct clash *c = vctx;

	if (strcmp(p->node, c->node) == 0 || p->relation == XF_PEER_SELF)
		return 0;
	c->same_key = memcmp(p->pubkey, c->pubkey, XF_PUBKEY_BYTES) == 0;
	c->second_upstream = p->relation == XF_PEER_UPSTREAM && strcmp(c->relation, "upstream") == 0;
	if (!c->same_key && !c->second_upstream)
		return 0;
	snprintf(c->with, sizeof(c->with), "%s", p->node);
	return 1;
}

static int check_enrolment(ctl *c, const char *node, const uint8_t *pubkey, const char *relation)
{
	static const uint8_t zero[XF_PUBKEY_BYTES];
	struct clash clash = { .node = node, .relation = relation, .pubkey = pubkey };
	int r;

	if (memcmp(pubkey, zero, sizeof(zero)) == 0)
		return ctl_usage(c, "an all-zero public key is no node's key");
	if ((r = ctl_open(c)) != 0 || (r = ctl_open_key(c)) != 0)
		return r;
	if (memcmp(pubkey, xf_key_public(c->key), XF_PUBKEY_BYTES) == 0)
		return ctl_fail(c, "that is this node's own key");
	r = xf_store_peers(c->store, find_clash, &clash);
	if (r < 0)
		return ctl_fail(c, "%s", xf_strerror(r));
	if (clash.same_key)
		return ctl_fail(c, "that key is enrolled already, for %s: one key speaks for one node", clash.with);
	if (clash.second_upstream)
		return ctl_fail(c, "this node's upstream is %s already", clash.with);
	return 0;
}

/* A village's only peer is its upstream. A township enrols its villages,
 * and names its own upstream (a county) with --upstream; a county enrols
 * its townships with --township, which lets them vouch for their villages. */
int cmd_enroll(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "upstream", no_argument, NULL, 'u' },
		{ "child", no_argument, NULL, 'C' },
		{ "township", no_argument, NULL, 't' },
		{ 0 },
	};
	const char *relation = NULL, *node, *hex;
	uint8_t pubkey[XF_PUBKEY_BYTES];
	xf_body *body = NULL;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		if (opt != 'u' && opt != 'C' && opt != 't')
			return opt == 'h' ? EXIT_OK : EXIT_USAGE;
		if (relation)
			return ctl_usage(c, "give one of --upstream, --child, --township");
		relation = opt == 'u' ? "upstream" : opt == 'C' ? "child" : "township";
	}
	if (argc - optind != 2)
		return ctl_usage(c, "expects NODE_ID PUBKEY (see --help)");
	node = argv[optind];
	hex = argv[optind + 1];
	if (xf_node_id_check(node) < 0)
		return ctl_usage(c, "'%s' is not a node id (1 to %d letters, digits or '-')", node, XF_NODE_ID_MAX);
	if (xf_pubkey_from_hex(hex, pubkey) < 0)
		return ctl_usage(c, "public key must be 64 hex characters, as 'xinfangctl key' prints it");
	if ((r = ctl_load_config(c)) != 0)
		return r;
	if (!relation)
		relation = strcmp(c->cfg.role, "village") == 0 ? "upstream" : "child";
	if (strcmp(c->cfg.role, "village") == 0 && strcmp(relation, "upstream") != 0)
		return ctl_usage(c, "a village has no children: it enrols only its upstream");
	if (strcmp(node, c->cfg.node_id) == 0)
		return ctl_fail(c, "a node cannot enrol itself");
	if ((r = check_enrolment(c, node, pubkey, relation)) != 0)
		return r;
	if (xf_body_new(&body) < 0)
		return ctl_fail(c, "out of memory");
	if ((r = ctl_put_text(c, body, "node", "node", node, XF_NODE_ID_MAX)) == 0 &&
	    (r = ctl_put_text(c, body, "pubkey", "pubkey", hex, 64)) == 0 &&
	    (r = ctl_put_text(c, body, "relation", "relation", relation, 16)) == 0)
		r = ctl_record(c, "node.enrolled", NULL, 'N', body, NULL);
	if (r == EXIT_OK)
		printf("enrolled %s as %s\n", node, relation);
	xf_body_free(body);
	return r;
}
