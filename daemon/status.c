#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

#define PID_FILE "xinfangd.pid"
#define STATE_FILE "xinfangd.state"

int daemon_claim(const char *data_dir, long *other)
{
	char path[1100], buf[32];
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", data_dir, PID_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* A `status` probing the lock holds it for an instant: try again
	 * before calling it another daemon's. */
	for (int tries = 1; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		if (errno == EWOULDBLOCK && tries < 5) {
			usleep(20000);
			continue;
		}
		r = errno == EWOULDBLOCK ? -EEXIST : -errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		*other = strtol(buf, NULL, 10);
		close(fd);
		return r;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

void daemon_publish(const char *data_dir, const char *state)
{
	char path[1100], tmp[1110];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", data_dir, STATE_FILE);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	/* A lost update only leaves an older line: nothing to report. */
	if (fprintf(f, "%s\n", state) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
}

void daemon_probe(const char *data_dir, daemon_live *out)
{
	char path[1100], buf[32];
	ssize_t n;
	FILE *f;
	int fd;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%s", data_dir, PID_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* The daemon holds the lock exclusively while it runs. */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		out->running = true;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		out->pid = strtol(buf, NULL, 10);
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/%s", data_dir, STATE_FILE);
	if (out->running && (f = fopen(path, "re"))) {
		if (fgets(out->state, sizeof(out->state), f))
			out->state[strcspn(out->state, "\n")] = '\0';
		fclose(f);
	}
}

/* "2026-11-30T11:02:03Z", or null for 0 (never). */
static json_t *time_json(uint64_t ms)
{
	char buf[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !gmtime_r(&t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *ago_json(uint64_t ms, uint64_t now_ms)
{
	return ms ? json_integer(now_ms > ms ? (json_int_t)((now_ms - ms) / 1000) : 0) : json_null();
}

static json_t *text_json(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

struct peers_ctx {
	json_t *array;
	uint64_t now_ms, stale_ms;
};

static int peer_json(const xf_peer_status *p, void *vctx)
{
	struct peers_ctx *c = vctx;
	json_t *o = json_object();

	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "node", json_string(p->node));
	json_object_set_new(o, "relation", json_string(p->relation == XF_PEER_TOWNSHIP ? "township" : "village"));
	json_object_set_new(o, "last_seen", time_json(p->last_seen_ms));
	json_object_set_new(o, "last_seen_ago_s", ago_json(p->last_seen_ms, c->now_ms));
	json_object_set_new(o, "head", json_integer((json_int_t)p->head));
	json_object_set_new(o, "held", json_integer((json_int_t)p->held));
	json_object_set_new(o, "lag", json_integer((json_int_t)p->lag));
	json_object_set_new(o, "software", text_json(p->software));
	json_object_set_new(o, "skew_ms", p->skew_known ? json_integer(p->skew_ms) : json_null());
	json_object_set_new(o, "last_error", text_json(p->last_error));
	json_object_set_new(o, "last_error_at", time_json(p->refused_ms));
	json_object_set_new(o, "forks", json_integer((json_int_t)p->forks));
	/* A last_seen ahead of now (our clock was set back) is fresh. */
	json_object_set_new(o, "stale", json_boolean(!p->last_seen_ms || (c->now_ms > p->last_seen_ms &&
									   c->now_ms - p->last_seen_ms > c->stale_ms)));
	return json_array_append_new(c->array, o) == 0 ? 0 : -ENOMEM;
}

json_t *status_json(xf_store *s, const xf_config *cfg, const daemon_live *live, uint64_t now_ms, int *err)
{
	struct peers_ctx pc = { json_array(), now_ms, (uint64_t)cfg->stale_after_s * 1000 };
	json_t *o = json_object(), *d = json_object();
	xf_status st;
	int r;

	*err = -ENOMEM;
	if (!o || !d || !pc.array)
		goto fail;
	if ((r = xf_status_read(s, &st)) < 0 || (r = xf_status_peers(s, peer_json, &pc)) < 0) {
		*err = r;
		goto fail;
	}
	json_object_set_new(o, "node", json_string(cfg->node_id));
	json_object_set_new(o, "role", json_string(cfg->role));
	json_object_set_new(o, "upstream", text_json(cfg->upstream_url));
	json_object_set_new(d, "running", json_boolean(live->running));
	json_object_set_new(d, "pid", live->running ? json_integer(live->pid) : json_null());
	json_object_set_new(d, "state", live->running ? text_json(live->state) : json_null());
	json_object_set_new(o, "daemon", d);
	json_object_set_new(o, "events", json_integer((json_int_t)st.events));
	json_object_set_new(o, "own", json_integer((json_int_t)st.own));
	json_object_set_new(o, "received", json_integer((json_int_t)st.received));
	/* With no upstream nothing is waiting to go anywhere. */
	json_object_set_new(o, "pending", cfg->upstream_url[0] ? json_integer((json_int_t)st.pending) : json_null());
	json_object_set_new(o, "last_sync", time_json(st.last_ok_ms));
	json_object_set_new(o, "last_sync_ago_s", ago_json(st.last_ok_ms, now_ms));
	json_object_set_new(o, "last_attempt", time_json(st.last_attempt_ms));
	json_object_set_new(o, "last_error", text_json(st.last_error));
	json_object_set_new(o, "skew_ms", st.skew_known ? json_integer(st.skew_ms) : json_null());
	json_object_set_new(o, "forks", json_integer((json_int_t)st.forks));
	json_object_set_new(o, "quarantined", json_integer((json_int_t)st.quarantined));
	json_object_set_new(o, "conflicts", json_integer((json_int_t)st.conflicts));
	json_object_set_new(o, "stale_after_s", json_integer(cfg->stale_after_s));
	json_object_set_new(o, "peers", pc.array);
	*err = 0;
	return o;
fail:
	json_decref(o);
	json_decref(d);
	json_decref(pc.array);
	return NULL;
}
