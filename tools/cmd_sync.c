/* sync, and bundles for villages whose only link is a USB stick. */
#include <errno.h>
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

int cmd_bundle_export(ctl *c, int argc, char **argv)
{
	size_t events;
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 1)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_open(c)) != 0)
		return r;
	r = xf_bundle_export(c->store, argv[optind], &events);
	if (r == -EEXIST)
		return ctl_fail(c, "%s exists; name a new file", argv[optind]);
	if (r < 0)
		return ctl_fail(c, "%s: %s", argv[optind], xf_strerror(r));
	printf("%zu events written to %s\n", events, argv[optind]);
	return EXIT_OK;
}

int cmd_bundle_import(ctl *c, int argc, char **argv)
{
	xf_ingest_stats st;
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 1)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_open(c)) != 0)
		return r;
	if (strcmp(c->cfg.role, "village") == 0)
		return ctl_fail(c, "a village takes no bundles: what its township has for it comes by sync");
	r = xf_bundle_import(c->store, argv[optind], c->now_ms, &st);
	if (r == XF_EPROTO)
		return ctl_fail(c, "%s is damaged; %zu new events from the frames before the damage landed", argv[optind],
				st.stored);
	if (r < 0)
		return ctl_fail(c, "%s: %s", argv[optind], xf_strerror(r));
	if (st.rejected)
		return ctl_fail(c, "%s: %zu new, %zu already held, %zu refused, first %s: %s", argv[optind], st.stored,
				st.duplicates, st.rejected, st.first_rejected, xf_strerror(st.first_error));
	printf("%s: %zu new events, %zu already held%s\n", argv[optind], st.stored, st.duplicates,
	       st.forks ? ", FORKS kept as evidence: run verify" : "");
	return EXIT_OK;
}
