/* The store: init and open, local appends, ingest of other nodes' events,
 * and verify. Each test has its own directory; nodes live in
 * subdirectories of it. */
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "unit.h"
#include "nodes.h"
#include "xf/body.h"
#include "xf/hlc.h"
#include "xf/store.h"
#include "store_impl.h" /* the LMDB environment, to list its readers */


struct fixture {
	char *dir;
	struct node a, b, c;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	void *dir = NULL;

	if (!f || unit_tmpdir_setup(&dir) < 0)
		return -1;
	f->dir = dir;
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	void *dir = f->dir;

	node_close(&f->a);
	node_close(&f->b);
	node_close(&f->c);
	unit_tmpdir_teardown(&dir);
	free(f);
	return 0;
}

/* A new node ID with its data dir inside the test's directory. */
static void node_init(struct fixture *f, struct node *n, const char *id, const char *role)
{
	node_create(n, f->dir, id, role);
}

static xf_draft open_case(void)
{
	return (xf_draft){ .type = "case.opened", .new_kind = 'C', .author = "clerk",
			   .body = empty_body, .body_len = sizeof(empty_body) };
}

static xf_draft note_on(const char *entity)
{
	return (xf_draft){ .type = "case.noted", .entity = entity, .author = "clerk",
			   .body = empty_body, .body_len = sizeof(empty_body) };
}

static int append_one(struct node *n, const xf_draft *d, uint64_t wall_ms, xf_appended *out)
{
	return xf_store_append(n->store, n->key, d, 1, wall_ms, out);
}

/* Append COUNT new cases to N. */
static void append_cases(struct node *n, size_t count)
{
	xf_draft *d = calloc(count, sizeof(*d));
	size_t i;

	assert_non_null(d);
	for (i = 0; i < count; i++)
		d[i] = open_case();
	assert_rc(xf_store_append(n->store, n->key, d, count, WALL, NULL), 0);
	free(d);
}

static uint64_t head_seq(struct node *n, const char *origin, uint8_t hash[XF_HASH_BYTES])
{
	uint8_t scratch[XF_HASH_BYTES];
	uint64_t seq = UINT64_MAX;

	assert_rc(xf_store_head(n->store, origin, &seq, hash ? hash : scratch), 0);
	return seq;
}

static void assert_sound(struct node *n, uint64_t events, size_t origins)
{
	xf_verify_report report;

	assert_rc(xf_store_verify(n->store, &report), 0);
	assert_int_equal(report.error, 0);
	assert_int_equal(report.events, events);
	assert_int_equal(report.origins, origins);
	assert_int_equal(report.forks, 0);
}

/* Copies of events read from a store, kept after the read ends. */
struct events {
	size_t n, cap;
	xf_blob *blobs;
	xf_event *evs; /* decoded views of BLOBS, filled by events_decode() */
};

static int collect_cb(const xf_event *ev, void *ctx)
{
	struct events *e = ctx;
	uint8_t *copy;

	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;
		void *p = realloc(e->blobs, cap * sizeof(*e->blobs));

		if (!p)
			return -ENOMEM;
		e->blobs = p;
		e->cap = cap;
	}
	copy = malloc(ev->len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, ev->bytes, ev->len);
	e->blobs[e->n++] = (xf_blob){ copy, ev->len };
	return 0;
}

static void events_decode(struct events *e)
{
	size_t i;

	e->evs = calloc(e->n ? e->n : 1, sizeof(*e->evs));
	assert_non_null(e->evs);
	for (i = 0; i < e->n; i++)
		assert_rc(xf_event_decode(e->blobs[i].data, e->blobs[i].len, &e->evs[i]), 0);
}

/* Every event of ORIGIN that N holds, in seq order, decoded. */
static void collect(struct node *n, const char *origin, struct events *e)
{
	memset(e, 0, sizeof(*e));
	assert_rc(xf_store_scan(n->store, origin, 1, collect_cb, e), 0);
	events_decode(e);
}

static void collect_entity(struct node *n, const char *entity, struct events *e)
{
	memset(e, 0, sizeof(*e));
	assert_rc(xf_store_entity_scan(n->store, entity, collect_cb, e), 0);
	events_decode(e);
}

static void events_free(struct events *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free((void *)e->blobs[i].data);
	free(e->blobs);
	free(e->evs);
	memset(e, 0, sizeof(*e));
}

static int ingest(struct node *n, const xf_blob *blobs, size_t count, xf_ingest_stats *stats)
{
	return xf_store_ingest(n->store, blobs, count, WALL, NULL, stats);
}

/* The event EV re-signed by KEY after CHANGE altered its envelope: what a
 * forger holding the key, or a restored backup, would produce. */
static xf_blob resign(const xf_event *ev, const xf_key *key, void (*change)(xf_event *))
{
	xf_event copy = *ev;
	uint8_t *bytes;
	size_t len;

	change(&copy);
	assert_rc(xf_event_encode(&copy, key, &bytes, &len), 0);
	return (xf_blob){ bytes, len };
}

static const uint8_t other_body[] = { 0x81, 0xa4, 't', 'e', 'x', 't', 0xa5, 'o', 't', 'h', 'e', 'r' };

static void change_body(xf_event *ev)
{
	ev->body = other_body;
	ev->body_len = sizeof(other_body);
}

static void change_prev(xf_event *ev)
{
	memset(ev->prev, 0, XF_HASH_BYTES);
}

/* -------------------------------------------------------------------- */

static void test_init_then_open(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], hex[XF_PUBKEY_HEX], value[XF_PUBKEY_HEX];
	uint8_t peer_key[XF_PUBKEY_BYTES];
	struct events e;
	struct stat st;
	xf_fields *fields = NULL;

	node_init(f, &f->a, "village-1", "village");
	assert_string_equal(xf_store_node(f->a.store), "village-1");
	assert_memory_equal(xf_key_public(f->a.key), f->a.pubkey, XF_PUBKEY_BYTES);
	assert_int_equal(stat(f->a.dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	unit_path(path, sizeof(path), f->a.dir, XF_KEY_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* The first event enrols the node's own key, so the log carries what
	 * verifies it. */
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 1);
	assert_rc(xf_store_peer_key(f->a.store, "village-1", peer_key), 0);
	assert_memory_equal(peer_key, f->a.pubkey, XF_PUBKEY_BYTES);
	collect(&f->a, "village-1", &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.evs[0].type, "node.enrolled");
	assert_string_equal(e.evs[0].entity, "N-village-1-1");
	assert_int_equal(e.evs[0].n_parents, 0);
	assert_rc(xf_event_verify(&e.evs[0], f->a.pubkey), 0);
	assert_rc(xf_fields_parse(e.evs[0].body, e.evs[0].body_len, &fields), 0);
	xf_pubkey_to_hex(f->a.pubkey, hex);
	assert_string_equal(xf_value_str(xf_fields_get(fields, "pubkey"), value, sizeof(value)), hex);
	assert_string_equal(xf_value_str(xf_fields_get(fields, "node"), value, sizeof(value)), "village-1");
	xf_fields_free(fields);
	events_free(&e);
	assert_sound(&f->a, 1, 1);

	/* Closed and opened again, it is the same log. */
	node_close(&f->a);
	node_open(&f->a);
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 1);
	assert_sound(&f->a, 1, 1);
}

static void test_init_refuses_existing_log(void **state)
{
	struct fixture *f = *state;
	uint8_t pubkey[XF_PUBKEY_BYTES];

	node_init(f, &f->a, "village-1", "village");
	assert_rc(xf_store_init(f->a.dir, "village-1", "village", WALL, pubkey), XF_EEXIST);
	assert_rc(xf_store_init(f->a.dir, "village-2", "village", WALL, pubkey), XF_EEXIST);
	/* The key on disk is still the one the log was made with. */
	node_close(&f->a);
	node_open(&f->a);
	assert_memory_equal(xf_key_public(f->a.key), f->a.pubkey, XF_PUBKEY_BYTES);
	assert_sound(&f->a, 1, 1);
}

static void test_open_without_log(void **state)
{
	struct fixture *f = *state;
	char dir[PATH_MAX];
	xf_store *s = NULL;

	unit_path(dir, sizeof(dir), f->dir, "empty");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_rc(xf_store_open(&s, dir, "village-1"), XF_ENOTFOUND);
	assert_null(s);
	unit_path(dir, sizeof(dir), f->dir, "absent");
	assert_true(xf_store_open(&s, dir, "village-1") < 0);
	assert_null(s);
}

static void test_open_refuses_dir_open_to_others(void **state)
{
	struct fixture *f = *state;
	xf_store *s = NULL;

	node_init(f, &f->a, "village-1", "village");
	node_close(&f->a);
	assert_int_equal(chmod(f->a.dir, 0755), 0);
	assert_rc(xf_store_open(&s, f->a.dir, "village-1"), XF_EUNSAFE);
	assert_null(s);
	assert_int_equal(chmod(f->a.dir, 0710), 0);
	assert_rc(xf_store_open(&s, f->a.dir, "village-1"), XF_EUNSAFE);
	assert_int_equal(chmod(f->a.dir, 0701), 0);
	assert_rc(xf_store_open(&s, f->a.dir, "village-1"), XF_EUNSAFE);
	assert_null(s);
	assert_int_equal(chmod(f->a.dir, 0700), 0);
	assert_rc(xf_store_open(&s, f->a.dir, "village-1"), 0);
	xf_store_close(s);
}

static void test_open_with_another_node_id(void **state)
{
	struct fixture *f = *state;
	xf_store *s = NULL;

	node_init(f, &f->a, "village-1", "village");
	assert_rc(xf_store_open(&s, f->a.dir, "village-2"), XF_ENODE);
	assert_rc(xf_store_open(&s, f->a.dir, "village-10"), XF_ENODE);
	assert_rc(xf_store_open(&s, f->a.dir, "village"), XF_ENODE);
	assert_null(s);
}

static void test_append_assigns_contiguous_seqs_and_entity_ids(void **state)
{
	struct fixture *f = *state;
	xf_draft batch[3] = { open_case(), open_case(), open_case() };
	xf_appended out[3];
	struct events e;
	size_t i;

	node_init(f, &f->a, "village-1", "village");
	for (i = 0; i < 2; i++) {
		xf_draft d = open_case();

		assert_rc(append_one(&f->a, &d, WALL, &out[0]), 0);
		assert_int_equal(out[0].seq, 2 + i);
	}
	assert_string_equal(out[0].entity, "C-village-1-3");
	assert_rc(xf_store_append(f->a.store, f->a.key, batch, 3, WALL, out), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(out[i].seq, 4 + i);
	assert_string_equal(out[0].entity, "C-village-1-4");
	assert_string_equal(out[2].entity, "C-village-1-6");
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 6);

	collect(&f->a, "village-1", &e);
	assert_int_equal(e.n, 6);
	for (i = 0; i < e.n; i++) {
		char entity[XF_ENTITY_ID_MAX + 1];

		assert_int_equal(e.evs[i].seq, i + 1);
		assert_string_equal(e.evs[i].origin, "village-1");
		if (i == 0)
			continue;
		snprintf(entity, sizeof(entity), "C-village-1-%zu", i + 1);
		assert_string_equal(e.evs[i].entity, entity);
		assert_string_equal(e.evs[i].type, "case.opened");
		assert_string_equal(e.evs[i].author, "clerk");
	}
	events_free(&e);
	assert_sound(&f->a, 6, 1);
}

/* Each event names the hash of the one before it, carries a later clock
 * than it even when the wall clock steps back, and is signed by the node. */
static void test_append_chains_events(void **state)
{
	struct fixture *f = *state;
	uint8_t prev[XF_HASH_BYTES] = { 0 }, head_hash[XF_HASH_BYTES];
	uint64_t wall[] = { WALL + 5000, WALL + 5000, WALL - 60000, WALL + 1 };
	struct events e;
	size_t i;

	node_init(f, &f->a, "village-1", "village");
	for (i = 0; i < sizeof(wall) / sizeof(wall[0]); i++) {
		xf_draft d = open_case();

		assert_rc(append_one(&f->a, &d, wall[i], NULL), 0);
	}
	collect(&f->a, "village-1", &e);
	assert_int_equal(e.n, 5);
	for (i = 0; i < e.n; i++) {
		assert_memory_equal(e.evs[i].prev, prev, XF_HASH_BYTES);
		assert_rc(xf_event_verify(&e.evs[i], f->a.pubkey), 0);
		if (i > 0)
			assert_true(e.evs[i].hlc > e.evs[i - 1].hlc);
		xf_event_hash(e.blobs[i].data, e.blobs[i].len, prev);
	}
	assert_int_equal(xf_hlc_physical(e.evs[1].hlc), WALL + 5000);
	assert_int_equal(head_seq(&f->a, "village-1", head_hash), 5);
	assert_memory_equal(head_hash, prev, XF_HASH_BYTES);
	events_free(&e);
}

static void test_append_naming_unknown_entity_writes_nothing(void **state)
{
	struct fixture *f = *state;
	xf_draft batch[2] = { open_case(), note_on("C-village-1-99") };
	xf_appended out;
	struct events e;

	node_init(f, &f->a, "village-1", "village");
	assert_rc(xf_store_append(f->a.store, f->a.key, batch, 2, WALL, NULL), XF_ENOTFOUND);
	batch[1] = note_on("C-elsewhere-2");
	assert_rc(xf_store_append(f->a.store, f->a.key, &batch[1], 1, WALL, NULL), XF_ENOTFOUND);
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 1);
	collect(&f->a, "village-1", &e);
	assert_int_equal(e.n, 1);
	events_free(&e);
	assert_sound(&f->a, 1, 1);
	/* The seq the failed batch would have used is still free. */
	assert_rc(append_one(&f->a, &batch[0], WALL, &out), 0);
	assert_int_equal(out.seq, 2);
}

static void test_append_rejects_malformed_drafts(void **state)
{
	struct fixture *f = *state;
	xf_draft good = open_case(), bad;

	node_init(f, &f->a, "village-1", "village");
	bad = good, bad.type = NULL;
	assert_rc(append_one(&f->a, &bad, WALL, NULL), -EINVAL);
	bad = good, bad.type = "";
	assert_rc(append_one(&f->a, &bad, WALL, NULL), -EINVAL);
	bad = good, bad.type = "case.opened.with.a.far.too.long.name";
	assert_rc(append_one(&f->a, &bad, WALL, NULL), -EINVAL);
	bad = good, bad.new_kind = 'c';
	assert_rc(append_one(&f->a, &bad, WALL, NULL), -EINVAL);
	bad = good, bad.new_kind = 0;
	assert_rc(append_one(&f->a, &bad, WALL, NULL), -EINVAL);
	bad = good, bad.author = NULL;
	assert_rc(append_one(&f->a, &bad, WALL, NULL), -EINVAL);
	bad = good, bad.author = "bad\xff";
	assert_rc(append_one(&f->a, &bad, WALL, NULL), XF_EUTF8);
	bad = good, bad.body = NULL;
	assert_rc(append_one(&f->a, &bad, WALL, NULL), -EINVAL);
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 1);
}

static void test_append_with_another_nodes_key(void **state)
{
	struct fixture *f = *state;
	xf_draft d = open_case();

	node_init(f, &f->a, "village-1", "village");
	node_init(f, &f->b, "village-2", "village");
	assert_rc(xf_store_append(f->a.store, f->b.key, &d, 1, WALL, NULL), XF_EBADSIG);
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 1);
	assert_sound(&f->a, 1, 1);
}

static void test_batch_append_of_1000(void **state)
{
	struct fixture *f = *state;
	xf_draft drafts[1000];
	xf_appended *out = calloc(1000, sizeof(*out));
	size_t i;

	assert_non_null(out);
	node_init(f, &f->a, "village-1", "village");
	for (i = 0; i < 1000; i++)
		drafts[i] = open_case();
	assert_rc(xf_store_append(f->a.store, f->a.key, drafts, 1000, WALL, out), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(out[i].seq, 2 + i);
	assert_string_equal(out[999].entity, "C-village-1-1001");
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 1001);
	assert_sound(&f->a, 1001, 1);
	free(out);
}

static void test_parents_are_the_entitys_latest_event(void **state)
{
	struct fixture *f = *state;
	xf_draft d = open_case();
	xf_appended opened, noted;
	struct events e;

	node_init(f, &f->a, "village-1", "village");
	assert_rc(append_one(&f->a, &d, WALL, &opened), 0);
	d = note_on(opened.entity);
	assert_rc(append_one(&f->a, &d, WALL, &noted), 0);
	assert_rc(append_one(&f->a, &d, WALL, NULL), 0);
	assert_string_equal(noted.entity, opened.entity);

	collect_entity(&f->a, opened.entity, &e);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.evs[0].n_parents, 0);
	assert_int_equal(e.evs[1].n_parents, 1);
	assert_true(str_is(e.evs[1].parents[0], "village-1:2"));
	/* Only the latest: the first event is an ancestor, not a head. */
	assert_int_equal(e.evs[2].n_parents, 1);
	assert_true(str_is(e.evs[2].parents[0], "village-1:3"));
	events_free(&e);
	assert_rc(xf_store_entity_scan(f->a.store, "C-village-1-99", collect_cb, &e), XF_ENOTFOUND);
}

/* Append TOTAL cases of about 2 KiB each to N, in batches of 500. */
static void append_big_cases(struct node *n, size_t total)
{
	enum { PER_BATCH = 500 };
	char *text = malloc(2049);
	const uint8_t *bytes;
	xf_body *body = NULL;
	xf_draft drafts[PER_BATCH];
	size_t len, i;

	assert_non_null(text);
	memset(text, 'x', 2048);
	text[2048] = '\0';
	assert_rc(xf_body_new(&body), 0);
	assert_rc(xf_body_put_str(body, "text", text, 4096), 0);
	assert_rc(xf_body_bytes(body, &bytes, &len), 0);
	for (i = 0; i < PER_BATCH; i++) {
		drafts[i] = open_case();
		drafts[i].body = bytes;
		drafts[i].body_len = len;
	}
	for (i = 0; i < total / PER_BATCH; i++)
		assert_rc(xf_store_append(n->store, n->key, drafts, PER_BATCH, WALL, NULL), 0);
	xf_body_free(body);
	free(text);
}

/* 20,000 events of about 2 KiB are some 40 MiB: more than the initial
 * 32 MiB map, so it must grow on the way. */
static void test_map_grows_past_initial_size(void **state)
{
	struct fixture *f = *state;
	enum { TOTAL = 20000 };
	char path[PATH_MAX];
	struct stat st;

	node_init(f, &f->a, "village-1", "village");
	append_big_cases(&f->a, TOTAL);
	unit_path(path, sizeof(path), f->a.dir, "data.mdb");
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > (off_t)32 << 20);
	assert_int_equal(head_seq(&f->a, "village-1", NULL), TOTAL + 1);
	assert_sound(&f->a, TOTAL + 1, 1);
	node_close(&f->a);
	node_open(&f->a);
	assert_sound(&f->a, TOTAL + 1, 1);
}

/* KiB of DIR's data.mdb resident in this process's map of it. */
static long map_resident_kib(const char *dir)
{
	char want[PATH_MAX], real[PATH_MAX], line[PATH_MAX + 128], *name;
	unsigned long start, end;
	long kib = 0, rss;
	bool in_map = false;
	FILE *smaps;

	assert_non_null(realpath(dir, real));
	unit_path(want, sizeof(want), real, "data.mdb");
	smaps = fopen("/proc/self/smaps", "r");
	assert_non_null(smaps);
	while (fgets(line, sizeof(line), smaps)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			name = strchr(line, '/');
			in_map = name && strcmp(name, want) == 0;
		} else if (in_map && sscanf(line, "Rss: %ld kB", &rss) == 1) {
			kib += rss;
		}
	}
	fclose(smaps);
	return kib;
}

static int count_bytes(const uint8_t *bytes, size_t len, uint64_t seq, void *ctx)
{
	(void)bytes, (void)seq;
	*(size_t *)ctx += len;
	return 0;
}

/* A village's catch-up reads its whole log through the map; counted as
 * its resident memory, that would be the log's size. */
static void test_scan_keeps_little_of_the_log_resident(void **state)
{
	struct fixture *f = *state;
	size_t read = 0;

	node_init(f, &f->a, "village-1", "village");
	append_big_cases(&f->a, 20000);
	assert_rc(xf_store_trim(f->a.store), 0);
	assert_int_equal(map_resident_kib(f->a.dir), 0);
	assert_rc(xf_store_scan_bytes(f->a.store, "village-1", 1, count_bytes, &read), 0);
	assert_true(read > (size_t)30 << 20);
	assert_in_range(map_resident_kib(f->a.dir), 1, 2048);
	assert_rc(xf_store_trim(f->a.store), 0);
	assert_int_equal(map_resident_kib(f->a.dir), 0);
}

static void test_enrolling_a_node_twice(void **state)
{
	struct fixture *f = *state;
	uint8_t key[XF_PUBKEY_BYTES];

	node_init(f, &f->a, "township", "township");
	node_init(f, &f->b, "village-1", "village");
	assert_rc(xf_store_peer_key(f->a.store, "village-1", key), XF_ENOTFOUND);
	assert_rc(enrol(&f->a, &f->b, "child"), 0);
	assert_rc(xf_store_peer_key(f->a.store, "village-1", key), 0);
	assert_memory_equal(key, f->b.pubkey, XF_PUBKEY_BYTES);
	assert_rc(enrol(&f->a, &f->b, "child"), XF_EEXIST);
	/* Nor may a node enrol a second key for itself. */
	assert_rc(enrol(&f->a, &f->a, "child"), XF_EEXIST);
	assert_int_equal(head_seq(&f->a, "township", NULL), 2);
	assert_sound(&f->a, 2, 1);
}

/* Two processes append at once: LMDB serialises them, and every seq is
 * used exactly once. The children report by exit status only. */
static void test_two_processes_append_without_losing_a_seq(void **state)
{
	struct fixture *f = *state;
	enum { PER_CHILD = 100 };
	pid_t pids[2];
	int i, status;

	node_init(f, &f->a, "village-1", "village");
	node_close(&f->a); /* LMDB environments must not cross fork() */
	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char path[PATH_MAX + sizeof(XF_KEY_FILE) + 1];
			xf_store *s = NULL;
			xf_key *key = NULL;
			xf_draft d = open_case();
			int j, failed = 0;

			snprintf(path, sizeof(path), "%s/%s", f->a.dir, XF_KEY_FILE);
			if (xf_store_open(&s, f->a.dir, "village-1") < 0 || xf_key_load(&key, path) < 0)
				_exit(2);
			for (j = 0; j < PER_CHILD; j++)
				failed |= xf_store_append(s, key, &d, 1, WALL, NULL) < 0;
			xf_key_free(key);
			xf_store_close(s);
			_exit(failed);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	node_open(&f->a);
	assert_int_equal(head_seq(&f->a, "village-1", NULL), 1 + 2 * PER_CHILD);
	assert_sound(&f->a, 1 + 2 * PER_CHILD, 1);
}

/* -------------------------------------------------------------------- */
/* Ingest: node a's events go to node b, which has enrolled a. */

static void ingest_setup(struct fixture *f, size_t a_cases)
{
	node_init(f, &f->a, "village-1", "village");
	node_init(f, &f->b, "township", "township");
	append_cases(&f->a, a_cases);
	assert_rc(enrol(&f->b, &f->a, "child"), 0);
}

static void test_ingest_stores_events_of_enrolled_node(void **state)
{
	struct fixture *f = *state;
	uint8_t a_hash[XF_HASH_BYTES], b_hash[XF_HASH_BYTES];
	struct events sent, held;
	xf_ingest_stats stats;
	size_t i;

	ingest_setup(f, 4);
	collect(&f->a, "village-1", &sent);
	assert_int_equal(sent.n, 5);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.stored, 5);
	assert_int_equal(stats.duplicates, 0);
	assert_int_equal(stats.forks, 0);
	assert_int_equal(stats.rejected, 0);
	assert_int_equal(stats.first_error, 0);

	/* Stored as the exact bytes the origin signed. */
	collect(&f->b, "village-1", &held);
	assert_int_equal(held.n, sent.n);
	for (i = 0; i < sent.n; i++) {
		assert_int_equal(held.blobs[i].len, sent.blobs[i].len);
		assert_memory_equal(held.blobs[i].data, sent.blobs[i].data, sent.blobs[i].len);
	}
	assert_int_equal(head_seq(&f->a, "village-1", a_hash), 5);
	assert_int_equal(head_seq(&f->b, "village-1", b_hash), 5);
	assert_memory_equal(a_hash, b_hash, XF_HASH_BYTES);
	events_free(&held);
	collect_entity(&f->b, "C-village-1-5", &held);
	assert_int_equal(held.n, 1);
	events_free(&held);
	events_free(&sent);
	/* b's own two events (self, enrolment of a) and a's five. */
	assert_sound(&f->b, 7, 2);
}

static void test_ingest_counts_duplicates(void **state)
{
	struct fixture *f = *state;
	struct events sent;
	xf_ingest_stats stats;

	ingest_setup(f, 2);
	collect(&f->a, "village-1", &sent);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.stored, 3);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.stored, 0);
	assert_int_equal(stats.duplicates, 3);
	assert_int_equal(stats.rejected, 0);
	assert_int_equal(stats.forks, 0);
	events_free(&sent);

	/* A batch that overlaps what is held stores only what is new. */
	append_cases(&f->a, 2);
	collect(&f->a, "village-1", &sent);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.duplicates, 3);
	assert_int_equal(stats.stored, 2);
	assert_int_equal(stats.rejected, 0);
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 5);
	events_free(&sent);
	assert_sound(&f->b, 2 + 5, 2);
}

static void test_ingest_rejects_unenrolled_origin(void **state)
{
	struct fixture *f = *state;
	struct events from_a, from_c;
	xf_ingest_stats stats;
	xf_blob batch[4];

	ingest_setup(f, 2);
	node_init(f, &f->c, "village-9", "village");
	collect(&f->a, "village-1", &from_a);
	collect(&f->c, "village-9", &from_c);

	assert_rc(ingest(&f->b, from_c.blobs, from_c.n, &stats), 0);
	assert_int_equal(stats.stored, 0);
	assert_int_equal(stats.rejected, 1);
	assert_int_equal(stats.first_error, XF_EUNKNOWNNODE);
	assert_string_equal(stats.first_rejected, "village-9:1");
	assert_int_equal(head_seq(&f->b, "village-9", NULL), 0);

	/* Other origins' events in the same batch still land. */
	batch[0] = from_c.blobs[0];
	memcpy(&batch[1], from_a.blobs, 3 * sizeof(xf_blob));
	assert_rc(ingest(&f->b, batch, 4, &stats), 0);
	assert_int_equal(stats.stored, 3);
	assert_int_equal(stats.rejected, 1);
	assert_int_equal(stats.first_error, XF_EUNKNOWNNODE);
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 3);
	assert_int_equal(head_seq(&f->b, "village-9", NULL), 0);
	events_free(&from_a);
	events_free(&from_c);
	assert_sound(&f->b, 2 + 3, 2);
}

static void test_ingest_keeps_fork_as_evidence(void **state)
{
	struct fixture *f = *state;
	struct events sent, held;
	xf_verify_report report;
	xf_ingest_stats stats;
	xf_blob forged, fork;

	ingest_setup(f, 2);
	collect(&f->a, "village-1", &sent);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.stored, 3);

	/* Different bytes for village-1:2 signed by another key: a forgery,
	 * not a fork. */
	forged = resign(&sent.evs[1], f->b.key, change_body);
	assert_rc(ingest(&f->b, &forged, 1, &stats), 0);
	assert_int_equal(stats.forks, 0);
	assert_int_equal(stats.rejected, 1);
	assert_int_equal(stats.first_error, XF_EBADSIG);
	assert_string_equal(stats.first_rejected, "village-1:2");
	assert_sound(&f->b, 2 + 3, 2);

	/* Different bytes for village-1:2 signed by village-1's own key. */
	fork = resign(&sent.evs[1], f->a.key, change_body);
	assert_rc(ingest(&f->b, &fork, 1, &stats), 0);
	assert_int_equal(stats.forks, 1);
	assert_int_equal(stats.stored, 0);
	assert_int_equal(stats.duplicates, 0);
	assert_int_equal(stats.rejected, 0);

	/* The event held first is kept; the fork never replaces it. */
	collect(&f->b, "village-1", &held);
	assert_int_equal(held.n, 3);
	assert_int_equal(held.blobs[1].len, sent.blobs[1].len);
	assert_memory_equal(held.blobs[1].data, sent.blobs[1].data, sent.blobs[1].len);
	events_free(&held);
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 3);

	assert_rc(xf_store_verify(f->b.store, &report), XF_EFORK);
	assert_int_equal(report.error, XF_EFORK);
	assert_int_equal(report.forks, 1);
	assert_string_equal(report.bad_event, "village-1:2");
	free((void *)forged.data);
	free((void *)fork.data);
	events_free(&sent);
}

static void test_ingest_rejects_broken_chain(void **state)
{
	struct fixture *f = *state;
	struct events sent, held;
	xf_ingest_stats stats;
	xf_blob batch[5];

	ingest_setup(f, 4);
	collect(&f->a, "village-1", &sent);
	/* village-1:4, validly signed, naming the wrong previous event. */
	memcpy(batch, sent.blobs, 5 * sizeof(xf_blob));
	batch[3] = resign(&sent.evs[3], f->a.key, change_prev);
	assert_rc(ingest(&f->b, batch, 5, &stats), 0);
	assert_int_equal(stats.stored, 3);
	assert_int_equal(stats.rejected, 2); /* the break, and the rest of the run after it */
	assert_int_equal(stats.first_error, XF_ECHAIN);
	assert_string_equal(stats.first_rejected, "village-1:4");
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 3);
	collect(&f->b, "village-1", &held);
	assert_int_equal(held.n, 3);
	events_free(&held);
	assert_sound(&f->b, 2 + 3, 2);

	/* The genuine events still go in after it. */
	assert_rc(ingest(&f->b, &sent.blobs[3], 2, &stats), 0);
	assert_int_equal(stats.stored, 2);
	assert_int_equal(stats.rejected, 0);
	free((void *)batch[3].data);
	events_free(&sent);
	assert_sound(&f->b, 2 + 5, 2);
}

static void test_ingest_rejects_seq_gap(void **state)
{
	struct fixture *f = *state;
	struct events sent;
	xf_ingest_stats stats;
	xf_blob batch[3];

	ingest_setup(f, 3);
	collect(&f->a, "village-1", &sent);
	batch[0] = sent.blobs[0];
	batch[1] = sent.blobs[1];
	batch[2] = sent.blobs[3];
	assert_rc(ingest(&f->b, batch, 3, &stats), 0);
	assert_int_equal(stats.stored, 2);
	assert_int_equal(stats.rejected, 1);
	assert_int_equal(stats.first_error, XF_ESEQ);
	assert_string_equal(stats.first_rejected, "village-1:4");
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 2);
	events_free(&sent);
	assert_sound(&f->b, 2 + 2, 2);
}

/* Only the last event of a run has its signature checked; the links prove
 * the rest. A bad signature there must cost that event alone. */
static void test_ingest_bad_signature_on_last_event(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[XF_HASH_BYTES], expected[XF_HASH_BYTES];
	struct events sent, held;
	xf_ingest_stats stats;
	xf_blob batch[4];
	uint8_t *tampered;
	size_t i;

	ingest_setup(f, 3);
	collect(&f->a, "village-1", &sent);
	memcpy(batch, sent.blobs, 4 * sizeof(xf_blob));
	tampered = malloc(sent.blobs[3].len);
	assert_non_null(tampered);
	memcpy(tampered, sent.blobs[3].data, sent.blobs[3].len);
	tampered[sent.blobs[3].len - 1] ^= 0x01;
	batch[3].data = tampered;

	assert_rc(ingest(&f->b, batch, 4, &stats), 0);
	assert_int_equal(stats.stored, 3);
	assert_int_equal(stats.rejected, 1);
	assert_int_equal(stats.first_error, XF_EBADSIG);
	assert_string_equal(stats.first_rejected, "village-1:4");
	assert_int_equal(head_seq(&f->b, "village-1", hash), 3);
	xf_event_hash(sent.blobs[2].data, sent.blobs[2].len, expected);
	assert_memory_equal(hash, expected, XF_HASH_BYTES);
	collect(&f->b, "village-1", &held);
	assert_int_equal(held.n, 3);
	for (i = 0; i < 3; i++)
		assert_memory_equal(held.blobs[i].data, sent.blobs[i].data, sent.blobs[i].len);
	events_free(&held);
	assert_sound(&f->b, 2 + 3, 2);

	/* The genuine event is taken when it comes. */
	assert_rc(ingest(&f->b, &sent.blobs[3], 1, &stats), 0);
	assert_int_equal(stats.stored, 1);
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 4);
	free(tampered);
	events_free(&sent);
	assert_sound(&f->b, 2 + 4, 2);
}

/* A node that keeps pushing forgeries fills no disk: past
 * XF_EVIDENCE_MAX, forged events are refused and counted, not kept. Each
 * push is a whole chain of the enrolled village's id, made with another
 * key: it links, so every event is checked and kept as a forgery. */
static void test_quarantine_is_bounded(void **state)
{
	struct fixture *f = *state;
	enum { PER_PUSH = 4000, PUSHES = XF_EVIDENCE_MAX / PER_PUSH + 2 };
	size_t quarantined, forks, rejected = 0, kept = 0, push;
	char parent[PATH_MAX], name[16];
	xf_ingest_stats stats;
	struct events forged;
	struct node forger;

	node_init(f, &f->a, "village-1", "village");
	node_init(f, &f->b, "township", "township");
	assert_rc(enrol(&f->b, &f->a, "child"), 0);
	for (push = 0; push < PUSHES; push++) {
		snprintf(name, sizeof(name), "forger-%zu", push);
		unit_path(parent, sizeof(parent), f->dir, name);
		assert_int_equal(mkdir(parent, 0700), 0);
		node_create(&forger, parent, "village-1", "village");
		append_cases(&forger, PER_PUSH - 1);
		collect(&forger, "village-1", &forged);
		assert_int_equal(forged.n, PER_PUSH);
		assert_rc(ingest(&f->b, forged.blobs, forged.n, &stats), 0);
		assert_int_equal(stats.stored, 0);
		assert_int_equal(stats.first_error, XF_EBADSIG);
		rejected += stats.rejected;
		kept += stats.quarantined;
		events_free(&forged);
		node_close(&forger);
	}
	assert_int_equal(rejected, PUSHES * PER_PUSH);
	assert_int_equal(kept, XF_EVIDENCE_MAX);
	assert_rc(xf_store_evidence(f->b.store, &quarantined, &forks), 0);
	assert_int_equal(quarantined, XF_EVIDENCE_MAX);
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 0);
}

/* A village's own forks, validly signed (a restored backup's records),
 * are kept past a sender's share of the quarantine: they may be the only
 * copy of what it recorded. A forgery still counts against the share. */
static void test_forks_are_kept_past_a_senders_share(void **state)
{
	struct fixture *f = *state;
	const xf_ingest_opts opts = { .sender = "village-1" };
	enum { N = XF_EVIDENCE_NODE_MAX + 100 };
	xf_blob *forks = calloc(N, sizeof(*forks)), forged;
	struct events sent;
	xf_ingest_stats stats;
	size_t quarantined, kept, i, n;

	assert_non_null(forks);
	ingest_setup(f, N);
	collect(&f->a, "village-1", &sent);
	assert_rc(xf_store_ingest(f->b.store, sent.blobs, sent.n, WALL, &opts, &stats), 0);
	assert_int_equal(stats.stored, sent.n);
	for (i = 0; i < N; i++)
		forks[i] = resign(&sent.evs[i + 1], f->a.key, change_body);
	for (i = 0; i < N; i += n) {
		n = N - i < 1000 ? N - i : 1000;
		assert_rc(xf_store_ingest(f->b.store, forks + i, n, WALL, &opts, &stats), 0);
		assert_int_equal(stats.forks, n);
	}
	forged = resign(&sent.evs[1], f->b.key, change_body);
	assert_rc(xf_store_ingest(f->b.store, &forged, 1, WALL, &opts, &stats), 0);
	assert_int_equal(stats.quarantined, 1);
	assert_rc(xf_store_evidence(f->b.store, &quarantined, &kept), 0);
	assert_int_equal(kept, N);
	assert_int_equal(quarantined, 1);
	for (i = 0; i < N; i++)
		free((void *)forks[i].data);
	free(forks);
	free((void *)forged.data);
	events_free(&sent);
}

static void test_ingest_malformed_blob_does_not_stop_others(void **state)
{
	static const uint8_t garbage[100] = { 0x93, 0x01, 0x02 };
	struct fixture *f = *state;
	struct events sent;
	xf_ingest_stats stats;
	xf_blob batch[4];

	ingest_setup(f, 2);
	collect(&f->a, "village-1", &sent);
	batch[0] = (xf_blob){ garbage, sizeof(garbage) };
	memcpy(&batch[1], sent.blobs, 3 * sizeof(xf_blob));
	assert_rc(ingest(&f->b, batch, 4, &stats), 0);
	assert_int_equal(stats.stored, 3);
	assert_int_equal(stats.rejected, 1);
	assert_int_equal(stats.first_error, XF_EPROTO);
	events_free(&sent);
	assert_sound(&f->b, 2 + 3, 2);
}

/* a and b both add to a case while apart; once b holds both additions,
 * its next event about the case names both as parents. */
static void test_concurrent_edits_become_parents(void **state)
{
	struct fixture *f = *state;
	xf_draft d = open_case();
	xf_appended opened, by_b;
	struct events sent, on_case;
	xf_ingest_stats stats;
	bool saw_a = false, saw_b = false;
	size_t i, j;

	node_init(f, &f->a, "village-1", "village");
	node_init(f, &f->b, "township", "township");
	assert_rc(enrol(&f->b, &f->a, "child"), 0);
	assert_rc(append_one(&f->a, &d, WALL, &opened), 0);
	collect(&f->a, "village-1", &sent);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.stored, 2);
	events_free(&sent);

	d = note_on(opened.entity);
	assert_rc(append_one(&f->a, &d, WALL + 10, NULL), 0);
	assert_rc(append_one(&f->b, &d, WALL + 20, NULL), 0);
	collect(&f->a, "village-1", &sent);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.stored, 1);
	events_free(&sent);

	assert_rc(append_one(&f->b, &d, WALL + 30, &by_b), 0);
	collect_entity(&f->b, opened.entity, &on_case);
	assert_int_equal(on_case.n, 4);
	for (i = 0; i < on_case.n; i++)
		if (on_case.evs[i].seq == by_b.seq && strcmp(on_case.evs[i].origin, "township") == 0)
			break;
	assert_true(i < on_case.n);
	assert_int_equal(on_case.evs[i].n_parents, 2);
	for (j = 0; j < 2; j++) {
		saw_a |= str_is(on_case.evs[i].parents[j], "village-1:3");
		saw_b |= str_is(on_case.evs[i].parents[j], "township:3");
	}
	assert_true(saw_a && saw_b);
	events_free(&on_case);
	assert_sound(&f->b, 4 + 3, 2);
}

/* Ingest moves the clock past what was received, but a sender whose clock
 * is days ahead pulls it no further than XF_HLC_MAX_FORWARD_MS. */
static void test_ingest_carries_the_clock_forward(void **state)
{
	struct fixture *f = *state;
	uint64_t minute = 60 * 1000, day = 24 * 60 * minute;
	xf_draft d = open_case();
	struct events sent, mine;
	xf_ingest_stats stats;

	node_init(f, &f->a, "village-1", "village");
	node_init(f, &f->b, "township", "township");
	assert_rc(enrol(&f->b, &f->a, "child"), 0);

	assert_rc(append_one(&f->a, &d, WALL + minute, NULL), 0);
	collect(&f->a, "village-1", &sent);
	assert_rc(ingest(&f->b, sent.blobs, sent.n, &stats), 0);
	assert_int_equal(stats.stored, 2);
	assert_rc(append_one(&f->b, &d, WALL, NULL), 0);
	collect(&f->b, "township", &mine);
	assert_true(mine.evs[2].hlc > sent.evs[1].hlc);
	events_free(&mine);
	events_free(&sent);

	assert_rc(append_one(&f->a, &d, WALL + 3 * day, NULL), 0);
	collect(&f->a, "village-1", &sent);
	assert_rc(ingest(&f->b, &sent.blobs[2], 1, &stats), 0);
	assert_int_equal(stats.stored, 1);
	assert_rc(append_one(&f->b, &d, WALL, NULL), 0);
	collect(&f->b, "township", &mine);
	assert_true(xf_hlc_physical(mine.evs[3].hlc) <= WALL + XF_HLC_MAX_FORWARD_MS);
	assert_true(mine.evs[3].hlc > mine.evs[2].hlc);
	events_free(&mine);
	events_free(&sent);
}

/* Both ways: each node enrols the other and holds the other's log. */
static void test_verify_passes_on_sound_logs(void **state)
{
	struct fixture *f = *state;
	struct events from_a, from_b;
	xf_ingest_stats stats;

	node_init(f, &f->a, "village-1", "village");
	node_init(f, &f->b, "township", "township");
	assert_rc(enrol(&f->a, &f->b, "child"), 0);
	assert_rc(enrol(&f->b, &f->a, "child"), 0);
	append_cases(&f->a, 10);
	append_cases(&f->b, 5);
	collect(&f->a, "village-1", &from_a);
	collect(&f->b, "township", &from_b);
	assert_rc(ingest(&f->b, from_a.blobs, from_a.n, &stats), 0);
	assert_int_equal(stats.stored, 12);
	assert_rc(ingest(&f->a, from_b.blobs, from_b.n, &stats), 0);
	assert_int_equal(stats.stored, 7);
	events_free(&from_a);
	events_free(&from_b);
	assert_sound(&f->a, 19, 2);
	assert_sound(&f->b, 19, 2);
}

/* Flip one bit in every copy of NEEDLE in FILE (LMDB may hold stale copies
 * of a page, and all of them must be damaged); returns how many. */
static size_t damage_file(const char *file, const uint8_t *needle, size_t len)
{
	int fd = open(file, O_RDWR | O_CLOEXEC);
	struct stat st;
	uint8_t *data;
	size_t i, hits = 0;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size);
	assert_non_null(data);
	assert_int_equal(pread(fd, data, (size_t)st.st_size, 0), st.st_size);
	for (i = 0; i + len <= (size_t)st.st_size; i++) {
		if (memcmp(data + i, needle, len) != 0)
			continue;
		data[i + len / 2] ^= 0x10;
		assert_int_equal(pwrite(fd, data + i + len / 2, 1, (off_t)(i + len / 2)), 1);
		hits++;
	}
	free(data);
	close(fd);
	return hits;
}

/* verify reads what is on disk: a damaged signature or link is found and
 * the event named. */
static void test_verify_finds_damage_on_disk(void **state)
{
	struct fixture *f = *state;
	char file[PATH_MAX];
	xf_verify_report report;
	struct events e;
	uint8_t sig[XF_SIG_BYTES], prev[XF_HASH_BYTES];

	node_init(f, &f->a, "village-1", "village");
	append_cases(&f->a, 4);
	collect(&f->a, "village-1", &e);
	memcpy(sig, e.evs[2].sig, XF_SIG_BYTES);
	memcpy(prev, e.evs[4].prev, XF_HASH_BYTES);
	events_free(&e);
	node_close(&f->a);
	unit_path(file, sizeof(file), f->a.dir, "data.mdb");

	assert_true(damage_file(file, sig, sizeof(sig)) > 0);
	node_open(&f->a);
	assert_rc(xf_store_verify(f->a.store, &report), XF_EBADSIG);
	assert_int_equal(report.error, XF_EBADSIG);
	assert_string_equal(report.bad_event, "village-1:3");
	node_close(&f->a);

	/* Undo that, then break the link from :5 back to :4. */
	sig[XF_SIG_BYTES / 2] ^= 0x10;
	assert_true(damage_file(file, sig, sizeof(sig)) > 0);
	assert_true(damage_file(file, prev, sizeof(prev)) > 0);
	node_open(&f->a);
	assert_rc(xf_store_verify(f->a.store, &report), XF_ECHAIN);
	assert_string_equal(report.bad_event, "village-1:5");
}

/* Delete ORIGIN:SEQ from the events database behind the store's back, as
 * someone editing the data file would. The store must be closed. */
static void delete_event(const char *dir, const char *origin, uint64_t seq)
{
	uint8_t key[XF_NODE_ID_MAX + 1 + 8];
	size_t n = strlen(origin);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k;
	int i;

	memcpy(key, origin, n + 1);
	for (i = 0; i < 8; i++)
		key[n + 1 + i] = (uint8_t)(seq >> (56 - 8 * i));
	k = (MDB_val){ n + 1 + 8, key };
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "events", 0, &dbi), 0);
	assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_verify_finds_deleted_event(void **state)
{
	struct fixture *f = *state;
	xf_verify_report report;

	node_init(f, &f->a, "village-1", "village");
	append_cases(&f->a, 4);
	node_close(&f->a);
	delete_event(f->a.dir, "village-1", 3);
	node_open(&f->a);
	assert_rc(xf_store_verify(f->a.store, &report), XF_ESEQ);
	assert_string_equal(report.bad_event, "village-1:3");
}

static int own_head_cb(const char *origin, uint64_t seq, bool sparse, void *ctx)
{
	bool *own_sparse = ctx;

	(void)seq;
	if (strcmp(origin, "village-1") == 0)
		*own_sparse = sparse;
	return 0;
}

/* A node's own events may come back to it (a relay echoing them). They are
 * duplicates, and must not turn its own chain into a sparse one, which
 * verify lets have gaps: a deleted event would then go unnoticed. */
static void test_own_events_echoed_back_leave_chain_strict(void **state)
{
	struct fixture *f = *state;
	xf_verify_report report;
	xf_ingest_stats stats;
	struct events own;
	bool own_sparse = true;

	node_init(f, &f->a, "village-1", "village");
	append_cases(&f->a, 4);
	collect(&f->a, "village-1", &own);
	assert_rc(ingest(&f->a, own.blobs, own.n, &stats), 0);
	assert_int_equal(stats.duplicates, 5);
	assert_int_equal(stats.stored, 0);
	assert_int_equal(stats.rejected, 0);
	events_free(&own);
	assert_rc(xf_store_heads(f->a.store, own_head_cb, &own_sparse), 0);
	assert_false(own_sparse);

	node_close(&f->a);
	delete_event(f->a.dir, "village-1", 3);
	node_open(&f->a);
	assert_rc(xf_store_verify(f->a.store, &report), XF_ESEQ);
}


/* One village's events pushed in batches of PUSH_BATCH from a thread, as
 * the township's server threads do. */
#define PUSH_BATCH 100

struct pusher {
	xf_store *township;
	const struct events *events;
	int failures;
};

static void *push_in_batches(void *arg)
{
	struct pusher *p = arg;
	xf_ingest_stats stats;
	size_t i, n;

	for (i = 0; i < p->events->n; i += n) {
		n = p->events->n - i < PUSH_BATCH ? p->events->n - i : PUSH_BATCH;
		if (xf_store_ingest(p->township, p->events->blobs + i, n, WALL, NULL, &stats) < 0 || stats.rejected)
			p->failures++;
	}
	return NULL;
}

/* Pushes from several threads at once share write transactions (group
 * commit); each must land whole, in order, once, whatever it is grouped
 * with, and whatever a group's budget of bytes leaves waiting for the next.
 * Two threads push the same village again: all duplicates. */
static void concurrent_ingests_all_land_once(struct fixture *f, size_t group_bytes /* 0: as opened */)
{
	struct events from_a, from_c;
	struct pusher pushers[4];
	pthread_t threads[4];
	size_t i;

	node_init(f, &f->a, "village-1", "village");
	node_init(f, &f->b, "township", "township");
	node_init(f, &f->c, "village-2", "village");
	if (group_bytes)
		f->b.store->group_bytes = group_bytes;
	append_cases(&f->a, 1500);
	append_cases(&f->c, 1500);
	assert_rc(enrol(&f->b, &f->a, "child"), 0);
	assert_rc(enrol(&f->b, &f->c, "child"), 0);
	collect(&f->a, "village-1", &from_a);
	collect(&f->c, "village-2", &from_c);
	pushers[0] = (struct pusher){ f->b.store, &from_a, 0 };
	pushers[1] = (struct pusher){ f->b.store, &from_c, 0 };
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, push_in_batches, &pushers[i]), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(pushers[0].failures + pushers[1].failures, 0);
	/* Again, twice at once: nothing new, nothing refused. */
	pushers[2] = (struct pusher){ f->b.store, &from_a, 0 };
	pushers[3] = (struct pusher){ f->b.store, &from_a, 0 };
	for (i = 2; i < 4; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, push_in_batches, &pushers[i]), 0);
	for (i = 2; i < 4; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(pushers[2].failures + pushers[3].failures, 0);
	assert_int_equal(head_seq(&f->b, "village-1", NULL), 1501);
	assert_int_equal(head_seq(&f->b, "village-2", NULL), 1501);
	/* The township's own 3 events and both villages' chains, whole. */
	assert_sound(&f->b, 3 + 1501 + 1501, 3);
	events_free(&from_a);
	events_free(&from_c);
}

static void test_concurrent_ingests_all_land_once(void **state)
{
	concurrent_ingests_all_land_once(*state, 0); /* the store's own budget */
}

/* A budget below any batch: every group is one batch, the others wait. */
static void test_concurrent_ingests_one_batch_a_group(void **state)
{
	concurrent_ingests_all_land_once(*state, 1);
}

#define FIXTURE_TEST(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

/* Change the meta value NAME (a big-endian u64) behind the store's back. */
static void meta_poke(const char *dir, const char *name, uint64_t value)
{
	uint8_t bytes[8];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(name), (void *)name }, v = { sizeof(bytes), bytes };
	int i;

	for (i = 0; i < 8; i++)
		bytes[i] = (uint8_t)(value >> (56 - 8 * i));
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A data dir a newer version wrote is refused, untouched: this version
 * could misread it, and writing to it could spoil it for the newer one. */
static void test_open_refuses_a_newer_schema(void **state)
{
	struct fixture *f = *state;
	xf_verify_report report;
	xf_store *s = NULL;

	node_init(f, &f->a, "village-1", "village");
	append_cases(&f->a, 2);
	node_close(&f->a);
	meta_poke(f->a.dir, "schema", XF_SCHEMA_VERSION + 1);
	assert_rc(xf_store_open(&s, f->a.dir, "village-1"), XF_ESCHEMA);
	assert_null(s);
	/* Still refused the second time: the refusal changed nothing. */
	assert_rc(xf_store_open(&s, f->a.dir, "village-1"), XF_ESCHEMA);
	meta_poke(f->a.dir, "schema", XF_SCHEMA_VERSION);
	node_open(&f->a);
	assert_rc(xf_store_verify(f->a.store, &report), 0);
	assert_int_equal(report.events, 3);
}

struct readers {
	pid_t pid;
	int n;
};

static int count_reader(const char *msg, void *ctx)
{
	struct readers *r = ctx;
	char pid[32];

	snprintf(pid, sizeof(pid), " %d ", (int)r->pid);
	r->n += strstr(msg, pid) != NULL;
	return 0;
}

/* Reader slots held by PID in the lock file of S's environment. */
static int readers_of(xf_store *s, pid_t pid)
{
	struct readers r = { pid, 0 };

	assert_true(mdb_reader_list(s->env, count_reader, &r) >= 0);
	return r.n;
}

static int block_in_read(const xf_event *ev, void *ctx)
{
	int fd = *(int *)ctx;

	(void)ev;
	if (write(fd, "r", 1) != 1)
		_exit(1);
	pause(); /* killed here, inside the read transaction */
	return 0;
}

/* Fork a process that opens the store in DIR and runs FN on it; its pid. */
static pid_t fork_store_user(const char *dir, int (*fn)(xf_store *s, void *ctx), void *ctx)
{
	pid_t child = fork();
	xf_store *s = NULL;

	assert_true(child >= 0);
	if (child == 0)
		_exit(xf_store_open(&s, dir, "village-1") == 0 && fn(s, ctx) == 0 ? 0 : 1);
	return child;
}

static int read_and_block(xf_store *s, void *ctx)
{
	return xf_store_scan(s, NULL, 1, block_in_read, ctx);
}

static int just_open(xf_store *s, void *ctx)
{
	(void)ctx;
	xf_store_close(s);
	return 0;
}

/* A process killed inside a read transaction, while another (the daemon)
 * keeps the log open, leaves its reader slot behind; while it stays,
 * writers cannot reuse the pages it pins and the file only grows. The next
 * process to open the log clears it. */
static void test_open_clears_a_dead_readers_slot(void **state)
{
	struct fixture *f = *state;
	int pipefd[2], status;
	pid_t reader, opener;
	char c;

	node_init(f, &f->a, "village-1", "village");
	append_cases(&f->a, 3);
	assert_int_equal(pipe(pipefd), 0);
	reader = fork_store_user(f->a.dir, read_and_block, &pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(kill(reader, SIGKILL), 0);
	assert_int_equal(waitpid(reader, &status, 0), reader);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(readers_of(f->a.store, reader), 1);

	opener = fork_store_user(f->a.dir, just_open, NULL);
	assert_int_equal(waitpid(opener, &status, 0), opener);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(readers_of(f->a.store, reader), 0);
	append_cases(&f->a, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_init_then_open),
		FIXTURE_TEST(test_init_refuses_existing_log),
		FIXTURE_TEST(test_open_without_log),
		FIXTURE_TEST(test_open_refuses_dir_open_to_others),
		FIXTURE_TEST(test_open_with_another_node_id),
		FIXTURE_TEST(test_append_assigns_contiguous_seqs_and_entity_ids),
		FIXTURE_TEST(test_append_chains_events),
		FIXTURE_TEST(test_append_naming_unknown_entity_writes_nothing),
		FIXTURE_TEST(test_append_rejects_malformed_drafts),
		FIXTURE_TEST(test_append_with_another_nodes_key),
		FIXTURE_TEST(test_batch_append_of_1000),
		FIXTURE_TEST(test_parents_are_the_entitys_latest_event),
		FIXTURE_TEST(test_map_grows_past_initial_size),
		FIXTURE_TEST(test_scan_keeps_little_of_the_log_resident),
		FIXTURE_TEST(test_enrolling_a_node_twice),
		FIXTURE_TEST(test_two_processes_append_without_losing_a_seq),
		FIXTURE_TEST(test_ingest_stores_events_of_enrolled_node),
		FIXTURE_TEST(test_ingest_counts_duplicates),
		FIXTURE_TEST(test_ingest_rejects_unenrolled_origin),
		FIXTURE_TEST(test_ingest_keeps_fork_as_evidence),
		FIXTURE_TEST(test_ingest_rejects_broken_chain),
		FIXTURE_TEST(test_ingest_rejects_seq_gap),
		FIXTURE_TEST(test_ingest_bad_signature_on_last_event),
		FIXTURE_TEST(test_quarantine_is_bounded),
		FIXTURE_TEST(test_forks_are_kept_past_a_senders_share),
		FIXTURE_TEST(test_ingest_malformed_blob_does_not_stop_others),
		FIXTURE_TEST(test_concurrent_edits_become_parents),
		FIXTURE_TEST(test_ingest_carries_the_clock_forward),
		FIXTURE_TEST(test_verify_passes_on_sound_logs),
		FIXTURE_TEST(test_verify_finds_damage_on_disk),
		FIXTURE_TEST(test_verify_finds_deleted_event),
		FIXTURE_TEST(test_own_events_echoed_back_leave_chain_strict),
		FIXTURE_TEST(test_concurrent_ingests_all_land_once),
		FIXTURE_TEST(test_concurrent_ingests_one_batch_a_group),
		FIXTURE_TEST(test_open_refuses_a_newer_schema),
		FIXTURE_TEST(test_open_clears_a_dead_readers_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
