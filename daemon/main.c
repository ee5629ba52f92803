/* xinfangd: keeps a node's log in sync. A village syncs with its upstream
 * whenever it can; a township also serves its villages. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "status.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)
/* Buffers this large or larger a village maps, and unmaps when freed. */
#define VILLAGE_MMAP_THRESHOLD (64 << 10)
/* A burst of local records becomes one sync. */
#define POKE_DELAY_MS 100
/* How often the state in words is brought up to date when nothing happens
 * ("in sync 3 min ago" ages). */
#define STATUS_REFRESH_MS (30 * 1000)

static const char *arg_config = XF_CONFIG_DEFAULT;
/* systemd's WatchdogSec, in microseconds; 0 when there is none. */
static uint64_t watchdog_usec;
static int arg_check_config;
static volatile sig_atomic_t stop_requested, hangup_seen;
static int wake_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		hangup_seen = 1;
	else
		stop_requested = 1;
	if (write(wake_pipe[1], "x", 1) < 0) {
		/* the flag alone will do */
	}
	errno = saved;
}

#define USAGE "xinfangd [-c FILE] [--check-config]"

static int parse_args(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool config_given = false;
	int opt;

	/* One line with a priority, as every other message of the daemon. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (config_given) {
				log_error("--config is given twice (usage: %s)", USAGE);
				return -EINVAL;
			}
			arg_config = optarg;
			config_given = true;
			break;
		case 'C': arg_check_config = 1; break;
		case 'h':
			printf("usage: " USAGE "\n"
			       "Keeps this node's petition log in sync (see xinfangd(8)).\n");
			return 0;
		case ':':
			log_error("option '%s' needs a value (usage: %s)", argv[optind - 1], USAGE);
			return -EINVAL;
		default:
			log_error("unknown option '%s' (usage: %s)", argv[optind - 1], USAGE);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (usage: %s)", argv[optind], USAGE);
		return -EINVAL;
	}
	return 1;
}

/* Exponential backoff with jitter: 1 s, 2 s, 4 s, ... up to 5 min, each
 * spread by up to a fifth so that villages cut off together do not all
 * come back in the same second. */
static uint64_t backoff_ms(unsigned failures)
{
	uint64_t ms = BACKOFF_FIRST_MS;

	while (failures-- > 1 && ms < BACKOFF_MAX_MS)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	return ms - ms / 10 + (uint64_t)rand() % (ms / 5 + 1);
}

struct node {
	xf_config cfg;
	xf_store *store;
	xf_key *key;
	server *srv;
	client *cli;
	int inotify;
	int pid_fd;
	unsigned failures;   /* syncs failed in a row */
	/* The events the log held when the last sync began: only a log that
	 * has grown since has a new record to send at once. Pending alone
	 * does not say so: a log whose upstream holds another history (a
	 * backup put back) keeps events pending through every sync. */
	uint64_t events_at_sync;
	char last_error[256];
};

static void say_status(const struct node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The state in words, for systemd and for `xinfangctl status`. */
static void say_status(const struct node *n, const char *fmt, ...)
{
	char line[256], state[sizeof("STATUS=") + sizeof(line)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(state, sizeof(state), "STATUS=%s", line);
	notify_send(state);
	daemon_publish(n->cfg.data_dir, line);
}

static uint64_t monotonic_usec(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* What the schedule runs on: village clocks are often wrong and get set
 * right with a jump, and a wall clock set back an hour must not hold the
 * next sync back an hour. The wall clock stays for what is recorded and
 * shown. */
static uint64_t monotonic_ms(void)
{
	return monotonic_usec() / 1000;
}

/* Tell systemd the daemon is alive, at most four times a watchdog period:
 * from the main loop, and from the sync client while it transfers. */
static void watchdog_ping(void)
{
	static uint64_t last;
	uint64_t now;

	if (!watchdog_usec)
		return;
	now = monotonic_usec();
	if (now - last >= watchdog_usec / 4) {
		notify_send("WATCHDOG=1");
		last = now;
	}
}

/* "2 min", "3 h", "4 d". */
static void span(uint64_t ms, char *buf, size_t size)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, size, "%llu s", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%llu min", (unsigned long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(buf, size, "%llu h", (unsigned long long)(s / 3600));
	else
		snprintf(buf, size, "%llu d", (unsigned long long)(s / 86400));
}

/* "in sync 2 min ago, 0 pending" or "offline 3 h, 12 pending: <why>" for a
 * node with an upstream; "serving HOST:PORT" for a township without one. */
static void refresh_status(const struct node *n)
{
	uint64_t now = xf_wall_ms();
	char since[32];
	xf_status st;

	if (!n->cli) {
		/* Its counts are in `xinfangctl status`, always current. */
		say_status(n, "serving %s", n->cfg.listen);
		return;
	}
	if (xf_status_read(n->store, &st) < 0)
		return;
	if (n->failures == 0 && st.last_ok_ms) {
		span(now > st.last_ok_ms ? now - st.last_ok_ms : 0, since, sizeof(since));
		say_status(n, "in sync %s ago, %llu pending", since, (unsigned long long)st.pending);
	} else if (st.last_ok_ms) {
		span(now > st.last_ok_ms ? now - st.last_ok_ms : 0, since, sizeof(since));
		say_status(n, "offline %s, %llu pending: %s", since, (unsigned long long)st.pending, n->last_error);
	} else {
		say_status(n, "never synced, %llu pending: %s", (unsigned long long)st.pending,
			   n->failures ? n->last_error : "first sync under way");
	}
}

static int node_open(struct node *n)
{
	char err[512], path[PATH_MAX], role[XF_ROLE_MAX];
	int r;

	r = xf_config_load(arg_config, &n->cfg, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	if (strcmp(n->cfg.role, "township") == 0 && !n->cfg.listen[0]) {
		log_error("%s: a township needs [server] listen", arg_config);
		return XF_ECONFIG;
	}
	/* A village's daemon only syncs: one whose only link is a USB stick
	 * runs none. */
	if (strcmp(n->cfg.role, "village") == 0 && !n->cfg.upstream_url[0]) {
		log_error("%s: a village needs [upstream] url (a village that syncs only by bundle runs no xinfangd)",
			  arg_config);
		return XF_ECONFIG;
	}
	if (strcmp(n->cfg.role, "village") == 0 && n->cfg.server_keys) {
		log_error("%s: a village serves no other node: take out [server]", arg_config);
		return XF_ECONFIG;
	}
	/* Found unreadable at the first sync, it would only say "problem with
	 * the SSL CA cert" at every try, and never which file. */
	if (n->cfg.ca_file[0] && access(n->cfg.ca_file, R_OK) < 0)
		return log_error_errno(-errno, "%s: [upstream] ca_file %s", arg_config, n->cfg.ca_file);
	r = xf_store_open(&n->store, n->cfg.data_dir, n->cfg.node_id);
	if (r == XF_ENOTFOUND || r == -ENOENT)
		return log_error_errno(r, "%s: cannot open the log (run 'xinfangctl init' first)", n->cfg.data_dir);
	if (r < 0)
		return log_error_errno(r, "%s: cannot open the log", n->cfg.data_dir);
	/* A township's config on a village's log would serve children that
	 * no village may have; a village's on a township's would leave its
	 * villages unserved. */
	if ((r = xf_store_role(n->store, role)) < 0)
		return log_error_errno(r, "%s: cannot read the log", n->cfg.data_dir);
	if (role[0] && strcmp(role, n->cfg.role) != 0) {
		log_error("%s: data dir belongs to a %s node, but %s says role = %s", n->cfg.data_dir, role, arg_config,
			  n->cfg.role);
		return XF_ECONFIG;
	}
	snprintf(path, sizeof(path), "%s/%s", n->cfg.data_dir, XF_KEY_FILE);
	r = xf_key_load(&n->key, path);
	if (r < 0)
		return log_error_errno(r, "%s", path);
	return 0;
}

static void node_close(struct node *n)
{
	if (n->pid_fd >= 0)
		close(n->pid_fd);
	server_stop(n->srv);
	client_free(n->cli);
	xf_key_free(n->key);
	xf_store_close(n->store);
	if (n->inotify >= 0)
		close(n->inotify);
}

/* Local records show up as writes to the log's file: the CLI needs no
 * channel to the daemon to get its records sent at once. Other files of
 * the data dir (the daemon's own state) are no news. */
static bool drain_inotify(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool touched = false;
	ssize_t len, off;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < len;) {
			const struct inotify_event *ev = (const struct inotify_event *)(buf + off);

			if (ev->len && strcmp(ev->name, "data.mdb") == 0)
				touched = true;
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	return touched;
}

static uint64_t pending(xf_store *s)
{
	uint64_t n = 0;

	xf_sync_pending(s, &n);
	return n;
}

static uint64_t event_count(xf_store *s)
{
	uint64_t n = 0;

	xf_store_count_events(s, &n);
	return n;
}

static void sync_once(struct node *n, uint64_t *next_ms)
{
	struct timespec t0, t1;
	client_report rep;
	uint64_t now;
	double ms;
	int r;

	say_status(n, "syncing with %s", n->cfg.upstream_url);
	n->events_at_sync = event_count(n->store);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = client_sync(n->cli, n->store, &rep);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1000 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	now = monotonic_ms();
	if (r == -EINTR)
		return;
	if (r == 0) {
		n->failures = 0;
		*next_ms = now + (uint64_t)n->cfg.sync_interval_s * 1000;
		log_info("synced: pushed %zu, pulled %zu in %zu requests, %zu bytes out, %zu in, %.0f ms%s", rep.pushed,
			 rep.pulled, rep.requests, rep.bytes_sent, rep.bytes_received, ms,
			 rep.receipt ? ", receipt kept" : "");
	} else {
		n->failures++;
		*next_ms = now + backoff_ms(n->failures);
		snprintf(n->last_error, sizeof(n->last_error), "%s", rep.error);
		log_warning("sync failed (%u in a row; next try in %.0f s) after %zu requests, %zu bytes out, %zu in, "
			    "%.0f ms: %s",
			    n->failures, (double)(*next_ms - now) / 1000, rep.requests, rep.bytes_sent,
			    rep.bytes_received, ms, rep.error);
	}
	refresh_status(n);
}

/* A write to the log shows on inotify as its pages are written, maybe
 * before its transaction commits: after a write, look for new local
 * records now and a few times more, shortly after. */
#define LOOKS_AFTER_WRITE 3

static int run(struct node *n)
{
	struct pollfd fds[2];
	char drain[16];
	unsigned looks_left = 0;
	uint64_t next_ms = 0, look_ms = 0, refresh_ms = 0, now, wake;
	int timeout, r;

	notify_send("READY=1");
	while (!stop_requested) {
		watchdog_ping();
		now = monotonic_ms();
		if (n->cli && now >= next_ms)
			sync_once(n, &next_ms);
		now = monotonic_ms();
		if (now >= refresh_ms) {
			refresh_status(n);
			refresh_ms = now + STATUS_REFRESH_MS;
		}
		if (stop_requested)
			break;
		now = monotonic_ms();
		if (looks_left && now >= look_ms) {
			if (n->failures == 0 && pending(n->store) > 0 && event_count(n->store) > n->events_at_sync) {
				if (next_ms > now + POKE_DELAY_MS)
					next_ms = now + POKE_DELAY_MS;
				looks_left = 0;
			} else {
				looks_left--;
				look_ms = now + 2 * POKE_DELAY_MS;
			}
		}
		wake = looks_left && look_ms < next_ms ? look_ms : next_ms;
		if (!n->cli || refresh_ms < wake)
			wake = refresh_ms;
		if (watchdog_usec && wake > now + watchdog_usec / 4000)
			wake = now + watchdog_usec / 4000;
		timeout = wake > now ? (int)(wake - now) : 0;
		/* Whatever was read through the map stays in the page cache; a
		 * sleeping daemon need not keep it resident. */
		xf_store_trim(n->store);
		fds[0] = (struct pollfd){ .fd = wake_pipe[0], .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = n->inotify, .events = POLLIN };
		r = poll(fds, n->inotify >= 0 ? 2 : 1, timeout);
		if (r < 0 && errno != EINTR)
			return log_error_errno(-errno, "poll");
		if (r > 0 && (fds[0].revents & POLLIN))
			while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
				;
		/* The default action would end the daemon; a reload is what an
		 * administrator who sends it may expect, and there is none. */
		if (hangup_seen) {
			hangup_seen = 0;
			log_notice("SIGHUP: %s is read only at start; restart xinfangd to apply a change", arg_config);
		}
		if (r > 0 && (fds[1].revents & POLLIN) && drain_inotify(n->inotify)) {
			looks_left = LOOKS_AFTER_WRITE;
			look_ms = monotonic_ms();
		}
	}
	notify_send("STOPPING=1");
	log_info("stopping");
	return 0;
}

int main(int argc, char **argv)
{
	struct node n = { .inotify = -1, .pid_fd = -1 };
	long other = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	int r;

	if ((r = log_hold_std_fds()) < 0)
		return EXIT_FAILURE; /* nowhere to say so */
	/* Before opening anything: a SIGHUP while the store opens would end
	 * the daemon. Until the wake pipe exists, the handler's write fails,
	 * and the flag waits for the loop. */
	sigaction(SIGHUP, &sa, NULL);
	r = parse_args(argc, argv);
	if (r <= 0)
		return r == 0 ? EXIT_SUCCESS : 2;
	if (node_open(&n) < 0) {
		node_close(&n);
		return EXIT_FAILURE;
	}
	if (arg_check_config) {
		if (n.cfg.listen[0] && server_start(&n.srv, &n.cfg, n.store, n.key, true) < 0) {
			node_close(&n);
			return EXIT_FAILURE;
		}
		printf("%s: configuration and data dir are valid\n", arg_config);
		node_close(&n);
		return EXIT_SUCCESS;
	}
	srand((unsigned)xf_wall_ms() ^ (unsigned)getpid());
	watchdog_usec = notify_watchdog_usec();
	/* A village PC's budget is 10 MiB. glibc keeps freed buffers in the
	 * heap and raises its mapping threshold to the largest it has freed,
	 * so a catch-up's batch buffers would stay; mapped, they are given
	 * back when freed. A township keeps the default: it allocates batches
	 * by the hundred a second. */
	if (strcmp(n.cfg.role, "village") == 0) {
		mallopt(M_MMAP_THRESHOLD, VILLAGE_MMAP_THRESHOLD);
		mallopt(M_TRIM_THRESHOLD, VILLAGE_MMAP_THRESHOLD);
	}
	n.pid_fd = daemon_claim(n.cfg.data_dir, &other);
	if (n.pid_fd < 0) {
		if (n.pid_fd == -EEXIST)
			log_error("%s: xinfangd is already running for this data dir (pid %ld)", n.cfg.data_dir, other);
		else
			log_error_errno(n.pid_fd, "%s/xinfangd.pid", n.cfg.data_dir);
		node_close(&n);
		return EXIT_FAILURE;
	}

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error_errno(-errno, "pipe");
		node_close(&n);
		return EXIT_FAILURE;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (n.cfg.listen[0]) {
		r = server_start(&n.srv, &n.cfg, n.store, n.key, false);
		if (r < 0) {
			node_close(&n);
			return EXIT_FAILURE;
		}
		log_info("node %s (%s) serving on %s", n.cfg.node_id, n.cfg.role, n.cfg.listen);
	}
	if (n.cfg.upstream_url[0]) {
		r = client_new(&n.cli, &n.cfg, n.key, &stop_requested);
		if (r < 0) {
			log_error_errno(r, "cannot set up the sync client");
			node_close(&n);
			return EXIT_FAILURE;
		}
		client_set_alive(n.cli, watchdog_ping);
		n.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (n.inotify >= 0 && inotify_add_watch(n.inotify, n.cfg.data_dir, IN_MODIFY) < 0)
			log_warning("cannot watch %s; local records wait for the next interval", n.cfg.data_dir);
		log_info("node %s (%s) syncing with %s every %u s", n.cfg.node_id, n.cfg.role, n.cfg.upstream_url,
			 n.cfg.sync_interval_s);
	}
	r = run(&n);
	node_close(&n);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
