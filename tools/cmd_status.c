/* status: has what I recorded reached the township; which village has not
 * synced, since when, and why. The table is printed from the same JSON
 * that --json prints and the township serves on GET /v1/status. */
#include <stdio.h>
#include <string.h>

#include "../daemon/status.h"
#include "ctl.h"

static const char *str_or(const json_t *o, const char *key, const char *fallback)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : fallback;
}

static long long num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "3 min ago", "2 h ago", "5 d ago" from seconds; BUF returned. */
static const char *ago(const json_t *seconds, char *buf, size_t size)
{
	long long s = (long long)json_integer_value(seconds);

	if (!json_is_integer(seconds))
		snprintf(buf, size, "never");
	else if (s < 60)
		snprintf(buf, size, "%lld s ago", s);
	else if (s < 3600)
		snprintf(buf, size, "%lld min ago", s / 60);
	else if (s < 86400 * 2)
		snprintf(buf, size, "%lld h ago", s / 3600);
	else
		snprintf(buf, size, "%lld d ago", s / 86400);
	return buf;
}

static const char *skew(const json_t *ms, char *buf, size_t size)
{
	if (!json_is_integer(ms))
		return "-";
	snprintf(buf, size, "%+.1f s", (double)json_integer_value(ms) / 1000);
	return buf;
}

static void print_table(const json_t *st)
{
	const json_t *daemon = json_object_get(st, "daemon"), *peers = json_object_get(st, "peers"), *p;
	char a[32], b[32];
	size_t i;

	printf("%-12s %s (%s)\n", "node", str_or(st, "node", ""), str_or(st, "role", ""));
	if (json_is_string(json_object_get(st, "upstream")))
		printf("%-12s %s\n", "upstream", str_or(st, "upstream", ""));
	if (json_is_true(json_object_get(daemon, "running")))
		printf("%-12s running (pid %lld): %s\n", "daemon", num(daemon, "pid"), str_or(daemon, "state", "-"));
	else
		printf("%-12s not running\n", "daemon");
	if (json_is_string(json_object_get(st, "upstream"))) {
		printf("%-12s %s (%s)\n", "last sync", str_or(st, "last_sync", "never"),
		       ago(json_object_get(st, "last_sync_ago_s"), a, sizeof(a)));
		printf("%-12s %s\n", "last try", str_or(st, "last_attempt", "never"));
		printf("%-12s %lld events not yet acknowledged by the upstream\n", "pending", num(st, "pending"));
		printf("%-12s %s\n", "last error", str_or(st, "last_error", "-"));
		printf("%-12s %s (the upstream's clock against ours)\n", "skew",
		       skew(json_object_get(st, "skew_ms"), b, sizeof(b)));
	}
	printf("%-12s %lld held: %lld recorded here, %lld from other nodes\n", "events", num(st, "events"),
	       num(st, "own"), num(st, "received"));
	printf("%-12s %lld forks, %lld quarantined, %lld in conflict\n", "evidence", num(st, "forks"),
	       num(st, "quarantined"), num(st, "conflicts"));
	if (json_array_size(peers) == 0)
		return;
	printf("\n%-16s %-22s %8s %8s %6s %8s %-8s %5s  %s\n", "NODE", "LAST SEEN", "HEAD", "HELD", "LAG", "SKEW",
	       "VERSION", "FORKS", "LAST ERROR");
	json_array_foreach(peers, i, p) {
		printf("%-16s %-22s %8lld %8lld %6lld %8s %-8s %5lld  %s%s\n", str_or(p, "node", ""),
		       ago(json_object_get(p, "last_seen_ago_s"), a, sizeof(a)), num(p, "head"), num(p, "held"),
		       num(p, "lag"), skew(json_object_get(p, "skew_ms"), b, sizeof(b)), str_or(p, "software", "-"),
		       num(p, "forks"), str_or(p, "last_error", "-"),
		       json_is_true(json_object_get(p, "stale")) ? "  [not seen within stale_after]" : "");
	}
}

int cmd_status(ctl *c, int argc, char **argv)
{
	daemon_live live;
	json_t *st;
	int r, err;

	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_load_config(c)) != 0 || (r = ctl_open(c)) != 0)
		return r;
	daemon_probe(c->cfg.data_dir, &live);
	st = status_json(c->store, &c->cfg, &live, c->now_ms, &err);
	if (!st)
		return ctl_fail(c, "%s", xf_strerror(err));
	if (c->json)
		return ctl_print_json(c, st);
	print_table(st);
	json_decref(st);
	return EXIT_OK;
}
