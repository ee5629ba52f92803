/* xinfangd: keeps a node's log in sync. A village syncs with its upstream
 * whenever it can; a township also serves its villages. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "server.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)
/* A burst of local records becomes one sync. */
#define POKE_DELAY_MS 100

static const char *arg_config = XF_CONFIG_DEFAULT;
static int arg_check_config;
static volatile sig_atomic_t stop_requested;
static int wake_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	stop_requested = 1;
	if (write(wake_pipe[1], "x", 1) < 0) {
		/* the flag alone will do */
	}
	errno = saved;
}

static int parse_args(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': arg_config = optarg; break;
		case 'C': arg_check_config = 1; break;
		case 'h':
			printf("usage: xinfangd [-c FILE] [--check-config]\n"
			       "Keeps this node's petition log in sync (see xinfangd(8)).\n");
			return 0;
		default: return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xinfangd: unexpected argument '%s'\n", argv[optind]);
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

static void say_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say_status(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", line);
}

struct node {
	xf_config cfg;
	xf_store *store;
	xf_key *key;
	server *srv;
	client *cli;
	int inotify;
};

static int node_open(struct node *n)
{
	char err[512], path[PATH_MAX];
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
	r = xf_store_open(&n->store, n->cfg.data_dir, n->cfg.node_id);
	if (r < 0)
		return log_error_errno(r, "%s: cannot open the log (run 'xinfangctl init' first)", n->cfg.data_dir);
	snprintf(path, sizeof(path), "%s/%s", n->cfg.data_dir, XF_KEY_FILE);
	r = xf_key_load(&n->key, path);
	if (r < 0)
		return log_error_errno(r, "%s", path);
	return 0;
}

static void node_close(struct node *n)
{
	server_stop(n->srv);
	client_free(n->cli);
	xf_key_free(n->key);
	xf_store_close(n->store);
	if (n->inotify >= 0)
		close(n->inotify);
}

/* Local records show up as writes to the log's file: the CLI needs no
 * channel to the daemon to get its records sent at once. */
static bool drain_inotify(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool touched = false;

	while (read(fd, buf, sizeof(buf)) > 0)
		touched = true;
	return touched;
}

static uint64_t pending(xf_store *s)
{
	uint64_t n = 0;

	xf_sync_pending(s, &n);
	return n;
}

static void sync_once(struct node *n, unsigned *failures, uint64_t *next_ms)
{
	client_report rep;
	uint64_t now;
	int r;

	say_status("syncing with %s", n->cfg.upstream_url);
	r = client_sync(n->cli, n->store, &rep);
	now = xf_wall_ms();
	if (r == 0) {
		*failures = 0;
		*next_ms = now + (uint64_t)n->cfg.sync_interval_s * 1000;
		if (rep.pushed || rep.pulled)
			log_info("synced: pushed %zu, pulled %zu in %zu requests, %zu bytes out, %zu in%s",
				 rep.pushed, rep.pulled, rep.requests, rep.bytes_sent, rep.bytes_received,
				 rep.receipt ? ", receipt kept" : "");
		say_status("in sync with %s; skew %+.1f s", n->cfg.upstream_url, (double)rep.skew_ms / 1000);
		return;
	}
	if (r == -EINTR)
		return;
	(*failures)++;
	*next_ms = now + backoff_ms(*failures);
	log_warning("sync failed (%u in a row; next try in %.0f s): %s", *failures,
		    (double)(*next_ms - now) / 1000, rep.error);
	say_status("offline %u tries, %llu pending: %s", *failures, (unsigned long long)pending(n->store), rep.error);
}

/* A write to the log shows on inotify as its pages are written, maybe
 * before its transaction commits: after a write, look for new local
 * records now and a few times more, shortly after. */
#define LOOKS_AFTER_WRITE 3

static int run(struct node *n)
{
	struct pollfd fds[2];
	unsigned failures = 0, looks_left = 0;
	uint64_t next_ms = 0, look_ms = 0, now, wake;
	int timeout, r;

	sd_notify(0, "READY=1");
	if (!n->cli)
		say_status("serving %s", n->cfg.listen);
	while (!stop_requested) {
		now = xf_wall_ms();
		if (n->cli && now >= next_ms)
			sync_once(n, &failures, &next_ms);
		if (stop_requested)
			break;
		now = xf_wall_ms();
		if (looks_left && now >= look_ms) {
			if (failures == 0 && pending(n->store) > 0) {
				if (next_ms > now + POKE_DELAY_MS)
					next_ms = now + POKE_DELAY_MS;
				looks_left = 0;
			} else {
				looks_left--;
				look_ms = now + 2 * POKE_DELAY_MS;
			}
		}
		wake = looks_left && look_ms < next_ms ? look_ms : next_ms;
		timeout = !n->cli ? -1 : wake > now ? (int)(wake - now) : 0;
		fds[0] = (struct pollfd){ .fd = wake_pipe[0], .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = n->inotify, .events = POLLIN };
		r = poll(fds, n->inotify >= 0 ? 2 : 1, timeout);
		if (r < 0 && errno != EINTR)
			return log_error_errno(-errno, "poll");
		if (r > 0 && (fds[1].revents & POLLIN) && drain_inotify(n->inotify)) {
			looks_left = LOOKS_AFTER_WRITE;
			look_ms = xf_wall_ms();
		}
	}
	sd_notify(0, "STOPPING=1");
	log_info("stopping");
	return 0;
}

int main(int argc, char **argv)
{
	struct node n = { .inotify = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	int r;

	r = parse_args(argc, argv);
	if (r <= 0)
		return r == 0 ? EXIT_SUCCESS : 2;
	if (node_open(&n) < 0) {
		node_close(&n);
		return EXIT_FAILURE;
	}
	if (arg_check_config) {
		printf("%s: configuration and data dir are valid\n", arg_config);
		node_close(&n);
		return EXIT_SUCCESS;
	}
	srand((unsigned)xf_wall_ms() ^ (unsigned)getpid());

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error_errno(-errno, "pipe");
		node_close(&n);
		return EXIT_FAILURE;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (n.cfg.listen[0]) {
		r = server_start(&n.srv, n.cfg.listen, n.store, n.key);
		if (r < 0) {
			log_error_errno(r, "cannot serve on %s", n.cfg.listen);
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
