/* sync, and bundles for villages whose only link is a USB stick. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../daemon/client.h"
#include "ctl.h"

int cmd_sync(ctl *c, int argc, char **argv)
{
	client_report rep;
	client *cli = NULL;
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_load_config(c)) != 0)
		return r;
	if (!c->cfg.upstream_url[0])
		return ctl_fail(c, "%s has no [upstream] url to sync with", c->config_path);
	if ((r = ctl_open(c)) != 0 || (r = ctl_open_key(c)) != 0)
		return r;
	if (client_new(&cli, &c->cfg, c->key, NULL) < 0)
		return ctl_fail(c, "cannot set up the sync client");
	r = client_sync(cli, c->store, &rep);
	client_free(cli);
	if (r < 0)
		return ctl_fail(c, "%s", rep.error[0] ? rep.error : xf_strerror(r));
	printf("in sync with %s: pushed %zu, pulled %zu in %zu requests (%zu bytes out, %zu in)\n",
	       c->cfg.upstream_url, rep.pushed, rep.pulled, rep.requests, rep.bytes_sent, rep.bytes_received);
	return EXIT_OK;
}

/* Without --for: what this node's upstream lacks, for the USB stick to
 * the township. With --for CHILD: what CHILD may pull from here, for the
 * stick back. */
int cmd_bundle_export(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "for", required_argument, NULL, 'f' },
		{ 0 },
	};
	const char *child = NULL, *path;
	size_t events;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		if (opt != 'f')
			return opt == 'h' ? EXIT_OK : EXIT_USAGE;
		child = optarg;
	}
	if (argc - optind != 1)
		return ctl_usage(c, "expects FILE (see --help)");
	if (child && xf_node_id_check(child) < 0)
		return ctl_usage(c, "--for '%s' is not a node id (1 to %d letters, digits or '-')", child, XF_NODE_ID_MAX);
	path = argv[optind];
	if ((r = ctl_open(c)) != 0)
		return r;
	if (child && strcmp(c->cfg.role, "village") == 0)
		return ctl_usage(c, "a village has no children to make a bundle --for");
	r = child ? xf_bundle_export_for(c->store, child, path, &events) : xf_bundle_export(c->store, path, &events);
	if (r == XF_ENOTFOUND)
		return ctl_fail(c, "--for %s: no such village is enrolled here (xinfangctl status lists them)", child);
	if (r == -EEXIST)
		return ctl_fail(c, "%s exists; name a new file", path);
	if (r < 0)
		return ctl_fail(c, "%s: %s", path, xf_strerror(r));
	printf("%zu events written to %s%s%s\n", events, path, child ? " for " : "", child ? child : "");
	return EXIT_OK;
}

int cmd_bundle_import(ctl *c, int argc, char **argv)
{
	char made_for[XF_NODE_ID_MAX + 1], landed[64] = "nothing imported", unkept[64] = "";
	xf_ingest_stats st;
	const char *path;
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 1)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	path = argv[optind];
	if ((r = ctl_open(c)) != 0)
		return r;
	r = xf_bundle_import(c->store, path, c->now_ms, &st, made_for);
	if (st.stored)
		snprintf(landed, sizeof(landed), "%zu new events from the frames before landed", st.stored);
	if (r == XF_ESCOPE && made_for[0])
		return ctl_fail(c, "%s was made for %s, not for %s; %s", path, made_for, c->cfg.node_id, landed);
	if (r == XF_ESCOPE)
		return ctl_fail(c, "%s carries a village's records up to its township; a village imports only the "
				"bundles its township makes for it (bundle export --for); %s", path, landed);
	if (r == XF_EPROTO)
		return ctl_fail(c, "%s is damaged; %s", path, landed);
	if (r < 0)
		return ctl_fail(c, "%s: %s", path, xf_strerror(r));
	if (st.unkept)
		snprintf(unkept, sizeof(unkept), " (%zu not kept: the evidence store is full)", st.unkept);
	if (st.rejected)
		return ctl_fail(c, "%s: %zu new, %zu already held, %zu refused%s, first %s: %s", path, st.stored,
				st.duplicates, st.rejected, unkept, st.first_rejected, xf_strerror(st.first_error));
	printf("%s: %zu new events, %zu already held%s%s\n", path, st.stored, st.duplicates,
	       st.forks ? ", FORKS kept as evidence: run verify" : "", unkept);
	return EXIT_OK;
}
