/* The sync protocol in process, without HTTP: a village's request, the
 * township's answer and the village applying it, as xinfangd would move
 * them; scope, batches, lost responses, refusals, receipts, bundles and a
 * county above the township. Each test has its own directory; nodes live
 * in subdirectories of it.
 *
 * Node ids are chosen so that the township sorts after its villages: a
 * request must still push the township's own events (its enrolments)
 * first. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <msgpack.h>

#include "unit.h"
#include "nodes.h"
#include "xf/mem.h"
#include "xf/body.h"
#include "xf/store.h"
#include "xf/status.h"
#include "xf/sync.h"
#include "xf/wire.h"

#define NODES 6

struct fixture {
	char *dir;
	struct node n[NODES];
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
	size_t i;

	for (i = 0; i < NODES; i++)
		node_close(&f->n[i]);
	unit_tmpdir_teardown(&dir);
	free(f);
	return 0;
}

/* A new node with its data dir inside the test's directory. */
static struct node *node_init(struct fixture *f, size_t i, const char *id, const char *role)
{
	node_create(&f->n[i], f->dir, id, role);
	return &f->n[i];
}

/* Open COUNT new cases on N; their ids into IDS (COUNT entries) if not
 * NULL. */
static void open_cases(struct node *n, size_t count, char (*ids)[XF_ENTITY_ID_MAX + 1])
{
	xf_draft *d = calloc(count, sizeof(*d));
	xf_appended *out = calloc(count, sizeof(*out));
	size_t i;

	assert_non_null(d);
	assert_non_null(out);
	for (i = 0; i < count; i++)
		d[i] = (xf_draft){ .type = "case.opened", .new_kind = 'C', .author = "clerk",
				   .body = empty_body, .body_len = sizeof(empty_body) };
	assert_rc(xf_store_append(n->store, n->key, d, count, WALL, out), 0);
	for (i = 0; ids && i < count; i++)
		snprintf(ids[i], XF_ENTITY_ID_MAX + 1, "%s", out[i].entity);
	free(d);
	free(out);
}

/* N records a note on each of COUNT entities. */
static void note_on(struct node *n, char (*entities)[XF_ENTITY_ID_MAX + 1], size_t count)
{
	xf_draft *d = calloc(count, sizeof(*d));
	size_t i;

	assert_non_null(d);
	for (i = 0; i < count; i++)
		d[i] = (xf_draft){ .type = "case.noted", .entity = entities[i], .author = "township clerk",
				   .body = empty_body, .body_len = sizeof(empty_body) };
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

static uint64_t pending(struct node *n)
{
	uint64_t events = UINT64_MAX;

	assert_rc(xf_sync_pending(n->store, &events), 0);
	return events;
}

/* The whole log verifies; its number of events. */
static uint64_t assert_sound(struct node *n)
{
	xf_verify_report report;
	int r = xf_store_verify(n->store, &report);

	if (r != 0)
		fail_msg("%s does not verify: %s at %s", n->id, xf_strerror(r), report.bad_event);
	assert_int_equal(report.forks, 0);
	return report.events;
}

/* ---- looking at what a store holds ---- */

struct seen {
	size_t n;
	const char *origin;       /* count only these, when set */
	const char *not_origin;   /* fail on an event of this origin */
	const char *not_entity;   /* fail on an entity id containing this */
};

static int seen_cb(const xf_event *ev, void *ctx)
{
	struct seen *c = ctx;

	if (c->not_origin && strcmp(ev->origin, c->not_origin) == 0)
		fail_msg("holds %s:%" PRIu64 " of %s", ev->origin, ev->seq, c->not_origin);
	if (c->not_entity && strstr(ev->entity, c->not_entity))
		fail_msg("holds %s:%" PRIu64 " on %s", ev->origin, ev->seq, ev->entity);
	if (!c->origin || strcmp(ev->origin, c->origin) == 0)
		c->n++;
	return 0;
}

/* How many events of ORIGIN (all when NULL) N holds. */
static size_t count_events(struct node *n, const char *origin)
{
	struct seen c = { 0 };

	assert_rc(xf_store_scan(n->store, origin, 1, seen_cb, &c), 0);
	return c.n;
}

static int count_one(const xf_event *ev, void *ctx)
{
	(void)ev;
	(*(size_t *)ctx)++;
	return 0;
}

/* How many events of ENTITY N holds. */
static size_t entity_events(struct node *n, const char *entity)
{
	size_t count = 0;
	int r = xf_store_entity_scan(n->store, entity, count_one, &count);

	assert_true(r == 0 || r == XF_ENOTFOUND);
	return count;
}

/* N holds no event of node OTHER nor any event on OTHER's entities. */
static void assert_holds_nothing_of(struct node *n, const char *other)
{
	char entity_part[XF_NODE_ID_MAX + 3];
	struct seen c = { .not_origin = other, .not_entity = entity_part };

	snprintf(entity_part, sizeof(entity_part), "-%s-", other);
	assert_rc(xf_store_scan(n->store, NULL, 1, seen_cb, &c), 0);
	assert_true(c.n > 0);
}

/* A text picture of everything a sync may change in a store: heads,
 * named state, evidence, the number of events. */
struct snap {
	char *text;
	size_t len;
	xf_store *s;
};

static void snap_add(struct snap *sn, const char *fmt, ...)
{
	va_list ap;
	char line[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	sn->text = realloc(sn->text, sn->len + (size_t)n + 1);
	assert_non_null(sn->text);
	memcpy(sn->text + sn->len, line, (size_t)n + 1);
	sn->len += (size_t)n;
}

static int snap_head(const char *origin, uint64_t seq, bool sparse, void *ctx)
{
	struct snap *sn = ctx;
	uint8_t hash[XF_HASH_BYTES];
	uint64_t s2;

	assert_rc(xf_store_head(sn->s, origin, &s2, hash), 0);
	snap_add(sn, "head %s %" PRIu64 " %d %02x%02x%02x%02x\n", origin, seq, sparse, hash[0], hash[1], hash[2],
		 hash[3]);
	return 0;
}

static int snap_state(const char *key, const uint8_t *value, size_t len, void *ctx)
{
	struct snap *sn = ctx;
	size_t i;

	snap_add(sn, "state %s %zu ", key, len);
	for (i = 0; i < len && i < 100; i++)
		snap_add(sn, "%02x", value[i]);
	snap_add(sn, "\n");
	return 0;
}

static char *snapshot(struct node *n)
{
	struct snap sn = { NULL, 0, n->store };
	char prefix[2] = { 0 };
	size_t q, forks;

	snap_add(&sn, "events %zu\n", count_events(n, NULL));
	assert_rc(xf_store_heads(n->store, snap_head, &sn), 0);
	for (prefix[0] = 'a'; prefix[0] <= 'z'; prefix[0]++)
		assert_rc(xf_store_state_scan(n->store, prefix, snap_state, &sn), 0);
	assert_rc(xf_store_evidence(n->store, &q, &forks), 0);
	snap_add(&sn, "evidence %zu %zu\n", q, forks);
	return sn.text;
}

static void assert_unchanged(struct node *n, const char *before)
{
	char *now = snapshot(n);

	if (strcmp(now, before) != 0)
		fail_msg("%s changed:\n--- before\n%s--- after\n%s", n->id, before, now);
	free(now);
}

struct keys {
	size_t n;
	char keys[16][64];
	xf_buf values[16];
};

static int keys_cb(const char *key, const uint8_t *value, size_t len, void *ctx)
{
	struct keys *k = ctx;

	assert_true(k->n < 16);
	snprintf(k->keys[k->n], sizeof(k->keys[0]), "%s", key);
	k->values[k->n].data = malloc(len);
	assert_non_null(k->values[k->n].data);
	memcpy(k->values[k->n].data, value, len);
	k->values[k->n].len = len;
	k->n++;
	return 0;
}

static int count_cb(const char *key, const uint8_t *value, size_t len, void *ctx)
{
	(void)key, (void)value, (void)len;
	++*(size_t *)ctx;
	return 0;
}

static void keys_dispose(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		xf_buf_dispose(&k->values[i]);
	k->n = 0;
}

/* ---- driving the protocol ---- */

/* CHILD's request, served by UP: the response and its seal are kept (not
 * applied). */
static void request_and_serve(struct node *child, struct node *up, xf_sync_push *push, xf_buf *resp,
			      struct seal *seal, xf_sync_stats *served)
{
	xf_buf req = { 0 };

	request_body(child->store, &req, push);
	seal->request = request_auth(child, 0, &req);
	assert_rc(xf_sync_serve(up->store, up->key, &seal->request, req.data, req.len, WALL, resp, seal->sig, served),
		  0);
	xf_buf_dispose(&req);
}

/* The bytes of the value under KEY in the msgpack map MSG: where they sit
 * in MSG, and how many. */
static size_t find_bin(const xf_buf *msg, const char *key, size_t *len)
{
	msgpack_zone zone;
	msgpack_object root;
	size_t off = 0, i;
	const uint8_t *at = NULL;

	assert_true(msgpack_zone_init(&zone, 4096));
	assert_int_equal(msgpack_unpack((const char *)msg->data, msg->len, &off, &zone, &root),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(root.type, MSGPACK_OBJECT_MAP);
	for (i = 0; i < root.via.map.size; i++) {
		const msgpack_object_kv *kv = &root.via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0) {
			assert_int_equal(kv->val.type, MSGPACK_OBJECT_BIN);
			at = memmem(msg->data, msg->len, kv->val.via.bin.ptr, kv->val.via.bin.size);
			*len = kv->val.via.bin.size;
		}
	}
	msgpack_zone_destroy(&zone);
	if (!at)
		fail_msg("no \"%s\" in the message", key);
	return (size_t)(at - msg->data);
}

/* ---- building what no honest node sends ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* A request body: version V (none when negative), cursors, PUSH. */
static void craft_request(xf_buf *out, int v, const xf_blob *push, size_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, (v >= 0 ? 1 : 0) + 3 + (push ? 1 : 0));
	if (v >= 0) {
		pack_str(&pk, "v");
		msgpack_pack_int(&pk, v);
	}
	pack_str(&pk, "cur");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	pack_str(&pk, "head");
	msgpack_pack_uint64(&pk, 1);
	pack_str(&pk, "sw");
	pack_str(&pk, "craft");
	if (push) {
		pack_str(&pk, "push");
		msgpack_pack_array(&pk, n);
		for (i = 0; i < n; i++) {
			msgpack_pack_bin(&pk, push[i].len);
			msgpack_pack_bin_body(&pk, push[i].data, push[i].len);
		}
	}
	out->data = (uint8_t *)sb.data;
	out->len = sb.size;
}

struct blobs {
	size_t n, cap;
	xf_blob *b;
};

/* Add DATA (malloc'ed, now C's) to C. */
static void blobs_add(struct blobs *c, uint8_t *data, size_t len)
{
	assert_rc(xf_grow(&c->b, &c->cap, c->n, sizeof(*c->b)), 0);
	c->b[c->n++] = (xf_blob){ data, len };
}

static int blobs_cb(const uint8_t *bytes, size_t len, uint64_t seq, void *ctx)
{
	uint8_t *copy = malloc(len);

	(void)seq;
	assert_non_null(copy);
	memcpy(copy, bytes, len);
	blobs_add(ctx, copy, len);
	return 0;
}

static void blobs_dispose(struct blobs *c)
{
	for (size_t i = 0; i < c->n; i++)
		free((void *)c->b[i].data);
	free(c->b);
	*c = (struct blobs){ 0 };
}

/* -------------------------------------------------------------------- */

static void test_first_sync_pushes_everything(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	uint8_t a_hash[XF_HASH_BYTES], t_hash[XF_HASH_BYTES];
	struct round rd;
	char *t_before;

	link_nodes(t, a, "child");
	open_cases(a, 10, NULL);
	/* Its self-enrolment, its enrolment of the township, ten cases. */
	assert_int_equal(pending(a), 12);
	assert_int_equal(assert_sound(t), 2);

	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.push.events, 12);
	assert_false(rd.push.full);
	assert_true(rd.push.bytes > 12 * XF_SIG_BYTES);
	assert_int_equal(rd.served.pushed, 12);
	assert_int_equal(rd.served.stored, 12);
	assert_int_equal(rd.served.rejected, 0);
	assert_string_equal(rd.served.peer, "cun-a");
	assert_int_equal(rd.applied.pushed, 12);
	assert_int_equal(rd.applied.stored, 12);
	assert_int_equal(rd.applied.rejected, 0);
	assert_int_equal(rd.applied.first_error, 0);
	assert_int_equal(rd.applied.pulled, 0);
	assert_false(rd.applied.more);
	assert_true(rd.applied.receipt);
	assert_int_equal(rd.applied.server_ms, WALL);
	assert_string_equal(rd.applied.peer, "xiang-1");
	assert_int_equal(pending(a), 0);

	/* The township holds the village's chain as the village does. */
	assert_int_equal(head_seq(t, "cun-a", t_hash), 12);
	assert_int_equal(head_seq(a, "cun-a", a_hash), 12);
	assert_memory_equal(t_hash, a_hash, XF_HASH_BYTES);
	assert_int_equal(count_events(t, "cun-a"), 12);
	assert_int_equal(assert_sound(t), 14);
	assert_int_equal(assert_sound(a), 12);

	/* Nothing left: the second request pushes nothing and changes no
	 * event at the township. */
	t_before = snapshot(t);
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.push.events, 0);
	assert_false(rd.push.full);
	assert_int_equal(rd.served.pushed, 0);
	assert_int_equal(rd.served.stored, 0);
	assert_int_equal(rd.applied.stored, 0);
	assert_int_equal(rd.applied.pulled, 0);
	assert_false(rd.applied.more);
	assert_int_equal(pending(a), 0);
	assert_int_equal(count_events(t, NULL), 14);
	/* An idle sync is small (PROTOCOL.md: about 360 bytes in all, with
	 * what HTTP adds). */
	assert_true(rd.req_len + rd.resp_len < 200);
	free(t_before);

	/* New work is pushed, and only that. */
	open_cases(a, 3, NULL);
	assert_int_equal(pending(a), 3);
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.push.events, 3);
	assert_int_equal(rd.applied.stored, 3);
	assert_int_equal(pending(a), 0);
	assert_int_equal(head_seq(t, "cun-a", NULL), 15);
	assert_int_equal(assert_sound(t), 17);
}

static void test_receipt_is_kept_and_verifies(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	uint8_t a_hash[XF_HASH_BYTES];
	struct keys k = { 0 };
	xf_receipt rc;
	struct round rd;

	link_nodes(t, a, "child");
	open_cases(a, 4, NULL);
	assert_rc(sync_round(a, t, &rd), 0);
	assert_true(rd.applied.receipt);

	assert_rc(xf_store_state_scan(a->store, "receipt:", keys_cb, &k), 0);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.keys[0], "receipt:00000000000000000006");
	memset(&rc, 0, sizeof(rc));
	assert_rc(xf_receipt_check(k.values[0].data, k.values[0].len, t->pubkey, &rc), 0);
	assert_string_equal(rc.upstream, "xiang-1");
	assert_string_equal(rc.node, "cun-a");
	assert_int_equal(rc.seq, 6);
	assert_int_equal(head_seq(a, "cun-a", a_hash), 6);
	assert_memory_equal(rc.hash, a_hash, XF_HASH_BYTES);
	assert_int_equal(rc.time_ms, WALL);
	/* Only the township's key vouches for it. */
	assert_rc(xf_receipt_check(k.values[0].data, k.values[0].len, a->pubkey, &rc), XF_EBADSIG);
	k.values[0].data[k.values[0].len - 1] ^= 1;
	assert_rc(xf_receipt_check(k.values[0].data, k.values[0].len, t->pubkey, &rc), XF_EBADSIG);
	keys_dispose(&k);

	/* An idle sync brings no receipt; the next push brings another, and
	 * the first is kept. */
	assert_rc(sync_round(a, t, &rd), 0);
	assert_false(rd.applied.receipt);
	open_cases(a, 2, NULL);
	assert_rc(sync_round(a, t, &rd), 0);
	assert_true(rd.applied.receipt);
	assert_rc(xf_store_state_scan(a->store, "receipt:", keys_cb, &k), 0);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.keys[0], "receipt:00000000000000000006");
	assert_string_equal(k.keys[1], "receipt:00000000000000000008");
	assert_rc(xf_receipt_check(k.values[1].data, k.values[1].len, t->pubkey, &rc), 0);
	assert_int_equal(rc.seq, 8);
	assert_int_equal(head_seq(a, "cun-a", a_hash), 8);
	assert_memory_equal(rc.hash, a_hash, XF_HASH_BYTES);
	keys_dispose(&k);
}

static void test_pull_is_scoped_to_the_village(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *b = node_init(f, 2, "cun-b", "village");
	char a_cases[2][XF_ENTITY_ID_MAX + 1], b_cases[1][XF_ENTITY_ID_MAX + 1];
	struct round rd;
	struct seen c = { 0 };
	size_t b_events;

	link_nodes(t, a, "child");
	link_nodes(t, b, "child");
	open_cases(a, 2, a_cases);
	open_cases(b, 1, b_cases);
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 0);
	assert_rc(sync_round(b, t, &rd), 0);
	/* The township holds both; neither village was sent the other's. */
	assert_int_equal(rd.applied.pulled, 0);
	assert_int_equal(count_events(t, "cun-a"), 4);
	assert_int_equal(count_events(t, "cun-b"), 3);

	/* The township acts on one case of each village (in feed order: see
	 * test_feeds_take_events_in_any_order for the other). */
	note_on(t, a_cases, 2);
	note_on(t, b_cases, 1);

	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.push.events, 0);
	assert_int_equal(rd.served.pulled, 2);
	assert_int_equal(rd.applied.pulled, 2);
	assert_int_equal(rd.applied.rejected, 0);
	assert_false(rd.applied.more);
	assert_int_equal(count_events(a, "xiang-1"), 2);
	c = (struct seen){ .origin = "xiang-1" };
	assert_rc(xf_store_entity_scan(a->store, a_cases[0], seen_cb, &c), 0);
	assert_int_equal(c.n, 1);
	c = (struct seen){ .origin = "xiang-1" };
	assert_rc(xf_store_entity_scan(a->store, a_cases[1], seen_cb, &c), 0);
	assert_int_equal(c.n, 1);

	assert_rc(sync_round(b, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 1);
	assert_int_equal(count_events(b, "xiang-1"), 1);
	c = (struct seen){ .origin = "xiang-1" };
	assert_rc(xf_store_entity_scan(b->store, b_cases[0], seen_cb, &c), 0);
	assert_int_equal(c.n, 1);

	/* Pulled once only; what was pulled is not pushed back. */
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 0);
	assert_int_equal(rd.push.events, 0);
	assert_int_equal(pending(a), 0);

	/* The village answers on its case: that goes up, and does not come
	 * back down to it, nor to the other village. */
	note_on(a, a_cases, 1);
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.push.events, 1);
	assert_int_equal(rd.applied.stored, 1);
	assert_int_equal(rd.applied.pulled, 0);
	b_events = count_events(b, NULL);
	assert_rc(sync_round(b, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 0);
	assert_int_equal(count_events(b, NULL), b_events);

	assert_holds_nothing_of(a, "cun-b");
	assert_holds_nothing_of(b, "cun-a");
	assert_int_equal(assert_sound(a), 5 + 2);
	assert_int_equal(assert_sound(b), 3 + 1);
	assert_int_equal(assert_sound(t), 6 + 5 + 3);
}

/* The township files events under its villages' feeds, and its upstream's
 * enrolment under the broadcast feed, in whatever order acts happen: a
 * note on one village's case after one on another's; a county joined
 * after the township has acted on village cases. */
static void test_feeds_take_events_in_any_order(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *b = node_init(f, 2, "cun-b", "village");
	struct node *c = node_init(f, 3, "county-1", "county");
	char a_cases[1][XF_ENTITY_ID_MAX + 1], b_cases[1][XF_ENTITY_ID_MAX + 1];
	struct round rd;

	link_nodes(t, a, "child");
	link_nodes(t, b, "child");
	open_cases(a, 1, a_cases);
	open_cases(b, 1, b_cases);
	sync_all(a, t);
	sync_all(b, t);

	/* cun-b's feed, then cun-a's (which sorts first). */
	note_on(t, b_cases, 1);
	note_on(t, a_cases, 1);
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 1);
	assert_rc(sync_round(b, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 1);

	/* The broadcast feed ("*") after the villages' ("@..."). */
	link_nodes(c, t, "township");
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 1);
	assert_rc(xf_store_peer(a->store, "county-1", &(xf_peer){ 0 }), 0);
}

static void test_large_backlog_goes_in_batches(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	const size_t cases = XF_SYNC_BATCH_EVENTS + 200;
	char (*ids)[XF_ENTITY_ID_MAX + 1] = calloc(cases, sizeof(*ids));
	xf_buf req = { 0 }, wire = { 0 };
	xf_sync_push push;
	struct round rd;
	size_t rounds, total = cases + 2;
	bool deflated;

	assert_non_null(ids);
	link_nodes(t, a, "child");
	open_cases(a, cases, ids);
	assert_int_equal(pending(a), total);

	/* A full batch, deflated as it was packed, fits the wire limits and
	 * inflates to a body within them. */
	assert_rc(xf_sync_request(a->store, "test/1", 0, NULL, &wire, &deflated, &push), 0);
	assert_true(deflated);
	assert_true(push.full);
	assert_int_equal(push.events, XF_SYNC_BATCH_EVENTS);
	assert_true(push.bytes <= XF_SYNC_BATCH_BYTES);
	assert_true(wire.len <= XF_SYNC_WIRE_MAX);
	assert_rc(xf_inflate(wire.data, wire.len, XF_SYNC_BODY_MAX, true, &req), 0);
	assert_true(req.len > push.bytes);
	xf_buf_dispose(&req);
	xf_buf_dispose(&wire);

	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.push.events, XF_SYNC_BATCH_EVENTS);
	assert_true(rd.push.full);
	assert_true(rd.applied.more);
	assert_int_equal(rd.applied.stored, XF_SYNC_BATCH_EVENTS);
	assert_int_equal(pending(a), total - XF_SYNC_BATCH_EVENTS);
	assert_int_equal(head_seq(t, "cun-a", NULL), XF_SYNC_BATCH_EVENTS);

	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.push.events, total - XF_SYNC_BATCH_EVENTS);
	assert_false(rd.push.full);
	assert_false(rd.applied.more);
	assert_int_equal(rd.applied.stored, total - XF_SYNC_BATCH_EVENTS);
	assert_int_equal(pending(a), 0);
	assert_int_equal(head_seq(t, "cun-a", NULL), total);
	assert_int_equal(count_events(t, "cun-a"), total);
	assert_int_equal(assert_sound(t), 2 + total);
	assert_int_equal(assert_sound(a), total);

	/* The other way: a note on every case is more than one pull. */
	note_on(t, ids, cases);
	rounds = 0;
	do {
		assert_rc(sync_round(a, t, &rd), 0);
		assert_int_equal(rd.push.events, 0);
		assert_int_equal(rd.applied.rejected, 0);
		if (rounds == 0) {
			assert_int_equal(rd.applied.pulled, XF_SYNC_BATCH_EVENTS);
			assert_true(rd.applied.more);
		}
		assert_true(++rounds < 10);
	} while (rd.applied.more);
	assert_int_equal(rounds, 2);
	assert_int_equal(rd.applied.pulled, cases - XF_SYNC_BATCH_EVENTS);
	assert_int_equal(count_events(a, "xiang-1"), cases);
	assert_int_equal(assert_sound(a), total + cases);
	/* And then nothing. */
	assert_rc(sync_round(a, t, &rd), 0);
	assert_int_equal(rd.applied.pulled, 0);
	assert_false(rd.applied.more);
	free(ids);
}

/* A township whose county refuses one village's events leaves that
 * village out of the rest of the sync: the other villages' events go up
 * all the same. */
static void test_a_refused_origin_is_left_out(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *a = node_init(f, 2, "cun-a", "village");
	struct node *b = node_init(f, 3, "cun-b", "village");
	xf_sync_skip skip = { 0 };
	xf_sync_push all, some;
	xf_buf wire = { 0 };
	bool deflated;
	char id[XF_EVENT_ID_MAX + 1];
	size_t i;

	link_nodes(t, a, "child");
	link_nodes(t, b, "child");
	link_nodes(c, t, "township");
	open_cases(a, 3, NULL);
	open_cases(b, 2, NULL);
	sync_all(a, t);
	sync_all(b, t);
	assert_rc(xf_sync_request(t->store, "test/1", 0, NULL, &wire, &deflated, &all), 0);
	xf_buf_dispose(&wire);
	assert_true(xf_sync_skip_add(&skip, "cun-a:2"));
	assert_false(xf_sync_skip_add(&skip, "cun-a:3"));
	assert_rc(xf_sync_request(t->store, "test/1", 0, &skip, &wire, &deflated, &some), 0);
	xf_buf_dispose(&wire);
	assert_int_equal(all.events - some.events, count_events(t, "cun-a"));
	/* Not an event id, or no room: nothing new to leave out. */
	assert_false(xf_sync_skip_add(&skip, "cun-a"));
	assert_false(xf_sync_skip_add(&skip, ":7"));
	for (i = skip.n; i < XF_SYNC_SKIP_MAX; i++) {
		snprintf(id, sizeof(id), "cun-%zu:1", i);
		assert_true(xf_sync_skip_add(&skip, id));
	}
	assert_false(xf_sync_skip_add(&skip, "cun-b:1"));
}

/* N opens a case from the records FROM (N_FROM ids) into ID; the draft is
 * built by hand, as a modified client would, past the CLI's checks. */
static void open_case_from(struct node *n, const char *const *from, size_t n_from, char id[XF_ENTITY_ID_MAX + 1])
{
	xf_draft d = { .type = "case.opened", .new_kind = 'C', .author = "clerk" };
	xf_appended done;
	xf_body *body = NULL;

	assert_rc(xf_body_new(&body), 0);
	assert_rc(xf_body_put_strv(body, "from", from, n_from, XF_ENTITY_ID_MAX), 0);
	assert_rc(xf_body_bytes(body, &d.body, &d.body_len), 0);
	assert_rc(xf_store_append(n->store, n->key, &d, 1, WALL, &done), 0);
	xf_body_free(body);
	snprintf(id, XF_ENTITY_ID_MAX + 1, "%s", done.entity);
}

/* A case a village opens on another village's record is not its to open:
 * the township would count and close it under the other village, and
 * file its decisions on it to the wrong feed. Refused, kept as evidence;
 * the village's cases on its own records land. */
static void test_a_case_on_another_villages_record_is_refused(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *b = node_init(f, 2, "cun-b", "village");
	char a_case[1][XF_ENTITY_ID_MAX + 1], b_case[1][XF_ENTITY_ID_MAX + 1], own[XF_ENTITY_ID_MAX + 1],
	     stolen[XF_ENTITY_ID_MAX + 1], want[XF_EVENT_ID_MAX + 1];
	const char *froms[2];
	struct round rd;
	size_t q, forks;

	link_nodes(t, a, "child");
	link_nodes(t, b, "child");
	open_cases(a, 1, a_case);
	open_cases(b, 1, b_case);
	sync_all(a, t);
	sync_all(b, t);
	froms[0] = b_case[0];
	open_case_from(b, froms, 1, own);
	froms[1] = a_case[0];
	open_case_from(b, froms, 2, stolen);
	assert_rc(sync_round(b, t, &rd), 0);
	assert_int_equal(rd.served.stored, 1);
	assert_int_equal(rd.served.rejected, 1);
	assert_int_equal(rd.served.first_error, XF_ESCOPE);
	assert_string_equal(rd.applied.first_refused_up, rd.served.first_rejected);
	/* the stolen case's opening, b's latest event */
	snprintf(want, sizeof(want), "cun-b:%" PRIu64, head_seq(b, "cun-b", NULL));
	assert_string_equal(rd.served.first_rejected, want);
	assert_rc(xf_store_evidence(t->store, &q, &forks), 0);
	assert_int_equal(q, 1);
	assert_int_equal(count_events(t, "cun-b"), head_seq(b, "cun-b", NULL) - 1);
	assert_sound(t);
}

/* A township's case opened from its village's record is its own to push:
 * the county takes it, for a village enrolled before the county link or
 * after. */
static void test_a_townships_case_on_its_villages_record_reaches_the_county(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *a = node_init(f, 2, "cun-a", "village");
	struct node *b = node_init(f, 3, "cun-b", "village");
	char a_case[1][XF_ENTITY_ID_MAX + 1], b_case[1][XF_ENTITY_ID_MAX + 1], id[XF_ENTITY_ID_MAX + 1];
	const char *froms[1];
	struct round rd;

	link_nodes(t, a, "child");
	link_nodes(c, t, "township");
	open_cases(a, 1, a_case);
	sync_all(a, t);
	froms[0] = a_case[0];
	open_case_from(t, froms, 1, id);
	assert_rc(sync_round(t, c, &rd), 0);
	assert_int_equal(rd.served.rejected, 0);
	link_nodes(t, b, "child");
	open_cases(b, 1, b_case);
	sync_all(b, t);
	froms[0] = b_case[0];
	open_case_from(t, froms, 1, id);
	assert_rc(sync_round(t, c, &rd), 0);
	assert_int_equal(rd.served.rejected, 0);
	assert_int_equal(pending(t), 0);
}

static void test_lost_response_is_repeated_harmlessly(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1];
	xf_buf lost = { 0 }, resp = { 0 };
	xf_sync_push push, push2;
	struct seal lost_seal, seal;
	xf_sync_stats served, applied;
	char *a_before;
	size_t t_events, q, forks;

	link_nodes(t, a, "child");
	open_cases(a, 1, ids);
	assert_int_equal(sync_all(a, t), 1);
	note_on(t, ids, 1);
	open_cases(a, 3, NULL);

	/* The township answers; the answer never arrives. */
	a_before = snapshot(a);
	request_and_serve(a, t, &push, &lost, &lost_seal, &served);
	assert_int_equal(push.events, 3);
	assert_int_equal(served.stored, 3);
	assert_int_equal(served.pulled, 1);
	xf_buf_dispose(&lost);
	assert_unchanged(a, a_before);
	free(a_before);
	assert_int_equal(pending(a), 3);
	t_events = count_events(t, NULL);

	/* The village asks again with the same work: nothing is stored
	 * twice, nothing is refused, nothing is kept as evidence. */
	request_and_serve(a, t, &push2, &resp, &seal, &served);
	assert_int_equal(push2.events, 3);
	assert_int_equal(served.pushed, 3);
	assert_int_equal(served.stored, 0);
	assert_int_equal(served.rejected, 0);
	assert_int_equal(served.pulled, 1);
	assert_int_equal(count_events(t, NULL), t_events);
	assert_rc(xf_store_evidence(t->store, &q, &forks), 0);
	assert_int_equal(q, 0);
	assert_int_equal(forks, 0);

	/* Its answer lands: the village has converged. */
	assert_rc(xf_sync_apply(a->store, &push2, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	xf_buf_dispose(&resp);
	assert_int_equal(applied.stored, 0);
	assert_int_equal(applied.pulled, 1);
	assert_true(applied.receipt);
	assert_int_equal(pending(a), 0);
	assert_int_equal(count_events(a, "xiang-1"), 1);
	assert_int_equal(assert_sound(a), 6 + 1);
	assert_int_equal(assert_sound(t), 2 + 6 + 1);

	/* And the next round has nothing to do. */
	request_and_serve(a, t, &push, &resp, &seal, &served);
	assert_int_equal(push.events, 0);
	assert_int_equal(served.pulled, 0);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	xf_buf_dispose(&resp);
	assert_int_equal(applied.pulled, 0);
}

/* A response applied twice (a retry after the first was applied) changes
 * nothing the second time. */
static void test_response_applied_twice(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1];
	xf_buf resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats served, applied;
	char *once;

	link_nodes(t, a, "child");
	open_cases(a, 1, ids);
	sync_all(a, t);
	note_on(t, ids, 1);
	open_cases(a, 2, NULL);
	request_and_serve(a, t, &push, &resp, &seal, &served);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_int_equal(applied.pulled, 1);
	once = snapshot(a);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_int_equal(applied.pulled, 0);
	assert_unchanged(a, once);
	free(once);
	xf_buf_dispose(&resp);
}

static void test_serve_refuses_nodes_that_are_not_children(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *u = node_init(f, 2, "xian-1", "county");
	xf_buf req = { 0 }, resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats st;
	char *before;

	link_nodes(t, a, "child");
	link_nodes(u, t, "township");
	open_cases(a, 2, NULL);
	before = snapshot(t);
	request_body(a->store, &req, &push);
	assert_int_equal(push.events, 4);
	/* The township's upstream, and the township itself, are not its
	 * children. */
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "xian-1", 0), req.data, req.len, WALL, &resp,
		  seal.sig, &st), -EPERM);
	assert_null(resp.data);
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "xiang-1", 0), req.data, req.len, WALL, &resp,
		  seal.sig, &st), -EPERM);
	assert_null(resp.data);
	assert_unchanged(t, before);
	/* The same request from the child itself is served. */
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), req.data, req.len, WALL, &resp,
		  seal.sig, &st), 0);
	assert_int_equal(st.stored, 4);
	xf_buf_dispose(&req);
	xf_buf_dispose(&resp);
	free(before);
}

/* sync.h: -EPERM "when CLIENT is not a child of this node"; a node not
 * enrolled at all is not one. */
static void test_serve_refuses_unenrolled_node(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	xf_buf req = { 0 }, resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats st;
	char *before;

	assert_rc(enrol(a, t, "upstream"), 0);
	open_cases(a, 2, NULL);
	before = snapshot(t);
	request_body(a->store, &req, &push);
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), req.data, req.len, WALL, &resp,
		  seal.sig, &st), -EPERM);
	assert_null(resp.data);
	assert_unchanged(t, before);
	xf_buf_dispose(&req);
	free(before);
}

static void test_serve_refuses_malformed_requests(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	xf_buf good = { 0 }, bad = { 0 }, resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats st;
	uint8_t noise[300];
	char *before;
	size_t i, cut;

	link_nodes(t, a, "child");
	open_cases(a, 3, NULL);
	request_body(a->store, &good, &push);
	before = snapshot(t);

#define REFUSED(bytes_, len_, want_)                                                                     \
	do {                                                                                             \
		assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), (bytes_), (len_), WALL, \
					&resp, seal.sig, &st),                                           \
			  want_);                                                                        \
		assert_null(resp.data);                                                                  \
	} while (0)

	/* Random bytes. */
	srand(42);
	for (i = 0; i < 200; i++) {
		size_t len = 1 + (size_t)rand() % sizeof(noise), j;

		for (j = 0; j < len; j++)
			noise[j] = (uint8_t)rand();
		REFUSED(noise, len, XF_EPROTO);
	}
	REFUSED((const uint8_t *)"", 0, XF_EPROTO);
	/* A real request cut short anywhere, or with a byte after it. */
	for (cut = 0; cut < good.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		assert_non_null(copy);
		memcpy(copy, good.data, cut);
		REFUSED(copy, cut, XF_EPROTO);
		free(copy);
	}
	bad.data = malloc(good.len + 1);
	assert_non_null(bad.data);
	memcpy(bad.data, good.data, good.len);
	bad.data[good.len] = 0xc0;
	REFUSED(bad.data, good.len + 1, XF_EPROTO);
	xf_buf_dispose(&bad);

	/* A map without "v", and another version. */
	craft_request(&bad, -1, NULL, 0);
	REFUSED(bad.data, bad.len, XF_EPROTO);
	xf_buf_dispose(&bad);
	craft_request(&bad, 2, NULL, 0);
	REFUSED(bad.data, bad.len, XF_EPROTO);
	xf_buf_dispose(&bad);
	craft_request(&bad, 0, NULL, 0);
	REFUSED(bad.data, bad.len, XF_EPROTO);
	xf_buf_dispose(&bad);
	/* Wrong shapes: not a map; "cur" missing or wrong; "push" not an
	 * array of bins; over the event limit of one batch. */
	{
		static const uint8_t array[] = { 0x92, 0xa1, 'v', 0x01 };
		static const uint8_t no_cur[] = { 0x81, 0xa1, 'v', 0x01 };
		static const uint8_t cur_short[] = { 0x82, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x91, 0x00 };
		static const uint8_t cur_neg[] = { 0x82, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0xff };
		static const uint8_t push_map[] = { 0x83, 0xa1, 'v',  0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00,
						    0x00, 0xa4, 'p',  'u',  's',  'h', 0x80 };
		static const uint8_t push_str[] = { 0x83, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00,
						    0xa4, 'p',	'u', 's',  'h',	 0x91, 0xa1, 'x' };
		static const uint8_t v_str[] = { 0x82, 0xa1, 'v', 0xa1, '1', 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00 };
		/* "sw" in Latin-1, not UTF-8; and with an escape character. */
		static const uint8_t sw_latin1[] = { 0x83, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00,
						     0x00, 0xa2, 's', 'w', 0xa4, 'c', 'a', 'f', 0xe9 };
		static const uint8_t sw_escape[] = { 0x83, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00,
						     0x00, 0xa2, 's', 'w', 0xa4, 'c', 'a', 'f', 0x1b };
		/* A clock offset that is no integer, or beyond any clock. */
		static const uint8_t off_str[] = { 0x83, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00,
						   0x00, 0xa3, 'o', 'f', 'f', 0xa1, '1' };
		static const uint8_t off_huge[] = { 0x83, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00, 0xa3,
						    'o',  'f',	'f', 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		static const uint8_t off_low[] = { 0x83, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00, 0xa3,
						   'o',	 'f',  'f', 0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

		REFUSED(array, sizeof(array), XF_EPROTO);
		REFUSED(no_cur, sizeof(no_cur), XF_EPROTO);
		REFUSED(cur_short, sizeof(cur_short), XF_EPROTO);
		REFUSED(cur_neg, sizeof(cur_neg), XF_EPROTO);
		REFUSED(push_map, sizeof(push_map), XF_EPROTO);
		REFUSED(push_str, sizeof(push_str), XF_EPROTO);
		REFUSED(v_str, sizeof(v_str), XF_EPROTO);
		REFUSED(sw_latin1, sizeof(sw_latin1), XF_EPROTO);
		REFUSED(sw_escape, sizeof(sw_escape), XF_EPROTO);
		REFUSED(off_str, sizeof(off_str), XF_EPROTO);
		REFUSED(off_huge, sizeof(off_huge), XF_EPROTO);
		REFUSED(off_low, sizeof(off_low), XF_EPROTO);
	}
	{
		xf_blob *many = calloc(XF_SYNC_BATCH_EVENTS + 1, sizeof(*many));

		assert_non_null(many);
		for (i = 0; i <= XF_SYNC_BATCH_EVENTS; i++)
			many[i] = (xf_blob){ (const uint8_t *)"x", 1 };
		craft_request(&bad, 1, many, XF_SYNC_BATCH_EVENTS + 1);
		REFUSED(bad.data, bad.len, XF_ETOOBIG);
		xf_buf_dispose(&bad);
		free(many);
	}
	/* Over the inflated size limit. */
	bad.data = calloc(1, XF_SYNC_BODY_MAX + 1);
	assert_non_null(bad.data);
	REFUSED(bad.data, XF_SYNC_BODY_MAX + 1, XF_ETOOBIG);
	xf_buf_dispose(&bad);
#undef REFUSED

	/* Nothing of it reached the store, not even a "seen" record. */
	assert_unchanged(t, before);
	/* A crafted request of the right shape is served (so the refusals
	 * above were for what they changed), and so is the real one. */
	craft_request(&bad, 1, NULL, 0);
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), bad.data, bad.len, WALL, &resp,
		  seal.sig, &st), 0);
	xf_buf_dispose(&resp);
	xf_buf_dispose(&bad);
	/* And so is the map of sw_latin1 with "sw" in UTF-8. */
	{
		static const uint8_t sw_utf8[] = { 0x83, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00,
						   0xa2, 's', 'w', 0xa5, 'c', 'a', 'f', 0xc3, 0xa9 };

		assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), sw_utf8, sizeof(sw_utf8), WALL,
			  &resp, seal.sig, &st), 0);
		xf_buf_dispose(&resp);
	}
	/* And the real request still works. */
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), good.data, good.len, WALL, &resp,
		  seal.sig, &st), 0);
	assert_int_equal(st.stored, 5);
	xf_buf_dispose(&resp);
	xf_buf_dispose(&good);
	free(before);
}

/* Events refused inside an accepted push do not fail the request: the
 * rest land, and the refusal comes back to the village. */
static void test_refused_events_are_reported(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *m = node_init(f, 2, "mallory", "village");
	struct blobs bl = { 0 };
	xf_buf req = { 0 }, resp = { 0 };
	xf_sync_push push = { 0 };
	struct seal seal;
	xf_sync_stats served, applied;
	xf_event ev;
	uint8_t *forged;
	size_t forged_len, q, forks;

	link_nodes(t, a, "child");
	open_cases(a, 3, NULL);
	assert_rc(xf_store_scan_bytes(a->store, "cun-a", 1, blobs_cb, &bl), 0);
	assert_int_equal(bl.n, 5);
	/* The next event of the village, made by someone else's key. */
	assert_rc(xf_event_decode(bl.b[4].data, bl.b[4].len, &ev), 0);
	ev.seq = 6;
	xf_event_hash(bl.b[4].data, bl.b[4].len, ev.prev);
	assert_rc(xf_event_encode(&ev, m->key, &forged, &forged_len), 0);
	blobs_add(&bl, forged, forged_len);
	craft_request(&req, 1, bl.b, bl.n);

	push.events = bl.n;
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), req.data, req.len, WALL, &resp,
		  seal.sig, &served), 0);
	assert_int_equal(served.pushed, 6);
	assert_int_equal(served.stored, 5);
	assert_int_equal(served.rejected, 1);
	assert_int_equal(served.first_error, XF_EBADSIG);
	assert_string_equal(served.first_rejected, "cun-a:6");
	assert_int_equal(head_seq(t, "cun-a", NULL), 5);
	assert_rc(xf_store_evidence(t->store, &q, &forks), 0);
	assert_int_equal(q, 1);

	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_int_equal(applied.stored, 5);
	assert_int_equal(applied.rejected, 1);
	assert_int_equal(applied.first_error, XF_EBADSIG);
	assert_string_equal(applied.first_rejected, "cun-a:6");
	/* The township acknowledged what it holds: the village's real log. */
	assert_int_equal(pending(a), 0);
	assert_true(applied.receipt);
	assert_int_equal(assert_sound(t), 2 + 5);
	xf_buf_dispose(&req);
	xf_buf_dispose(&resp);
	blobs_dispose(&bl);
}

/* One child's forgeries take at most its share of the evidence
 * (XF_EVIDENCE_NODE_MAX), pushed once or again: what another child
 * brings after it is still kept. */
static void test_one_child_takes_at_most_its_share_of_evidence(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *m = node_init(f, 2, "mallory", "village");
	struct blobs forged = { 0 }, bl = { 0 };
	char parent[PATH_MAX];
	xf_buf req = { 0 }, resp = { 0 };
	struct node *forger = &f->n[3];
	xf_sync_stats served;
	struct seal seal;
	xf_event ev;
	uint8_t *bytes;
	size_t len, q, forks, round;

	link_nodes(t, a, "child");
	link_nodes(t, m, "child");
	/* Mallory's pushes: a chain of cun-a's id made with another key. */
	unit_path(parent, sizeof(parent), f->dir, "forger");
	assert_int_equal(mkdir(parent, 0700), 0);
	node_create(forger, parent, "cun-a", "village");
	open_cases(forger, XF_EVIDENCE_NODE_MAX, NULL);
	assert_rc(xf_store_scan_bytes(forger->store, "cun-a", 1, blobs_cb, &forged), 0);
	assert_true(forged.n > XF_EVIDENCE_NODE_MAX);
	craft_request(&req, 1, forged.b, forged.n);
	for (round = 0; round < 2; round++) {
		assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "mallory", round), req.data, req.len, WALL,
					&resp, seal.sig, &served),
			  0);
		assert_int_equal(served.rejected, forged.n);
		/* What is held already is not counted again as left out. */
		assert_int_equal(served.unkept, forged.n - XF_EVIDENCE_NODE_MAX);
		assert_rc(xf_store_evidence(t->store, &q, &forks), 0);
		assert_int_equal(q, XF_EVIDENCE_NODE_MAX);
		xf_buf_dispose(&resp);
	}
	xf_buf_dispose(&req);

	/* The village's own pushes, its last event forged by Mallory. */
	open_cases(a, 1, NULL);
	assert_rc(xf_store_scan_bytes(a->store, "cun-a", 1, blobs_cb, &bl), 0);
	assert_rc(xf_event_decode(bl.b[bl.n - 1].data, bl.b[bl.n - 1].len, &ev), 0);
	ev.seq++;
	xf_event_hash(bl.b[bl.n - 1].data, bl.b[bl.n - 1].len, ev.prev);
	assert_rc(xf_event_encode(&ev, m->key, &bytes, &len), 0);
	blobs_add(&bl, bytes, len);
	craft_request(&req, 1, bl.b, bl.n);
	assert_rc(xf_sync_serve(t->store, t->key, seal_from(&seal, "cun-a", 0), req.data, req.len, WALL, &resp,
				seal.sig, &served),
		  0);
	assert_int_equal(served.rejected, 1);
	assert_int_equal(served.unkept, 0);
	assert_int_equal(served.stored, bl.n - 1);
	assert_rc(xf_store_evidence(t->store, &q, &forks), 0);
	assert_int_equal(q, XF_EVIDENCE_NODE_MAX + 1);
	xf_buf_dispose(&req);
	xf_buf_dispose(&resp);
	blobs_dispose(&bl);
	blobs_dispose(&forged);
}

static void test_apply_refuses_response_from_other_than_upstream(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *t2 = node_init(f, 2, "xiang-2", "township");
	struct node *c = node_init(f, 3, "cun-c", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1];
	xf_buf resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats served, applied;
	char *before;

	link_nodes(t, a, "child");
	open_cases(a, 1, ids);
	/* Another township takes the village as its child (the village never
	 * enrolled it), takes its events, acts on its case. */
	assert_rc(enrol(t2, a, "child"), 0);
	request_and_serve(a, t2, &push, &resp, &seal, &served);
	assert_int_equal(served.stored, 3);
	xf_buf_dispose(&resp);
	note_on(t2, ids, 1);

	before = snapshot(a);
	request_and_serve(a, t2, &push, &resp, &seal, &served);
	assert_int_equal(served.pulled, 1);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied),
		  XF_EUNKNOWNNODE);
	assert_unchanged(a, before);
	assert_int_equal(pending(a), 3);
	xf_buf_dispose(&resp);

	/* A node the village enrolled, but as its child, is no upstream
	 * either. */
	assert_rc(enrol(a, c, "child"), 0);
	assert_rc(enrol(c, a, "child"), 0);
	free(before);
	before = snapshot(a);
	{
		xf_buf req = { 0 };

		request_body(a->store, &req, &push);
		assert_rc(xf_sync_serve(c->store, c->key, seal_from(&seal, "cun-a", 0), req.data, req.len, WALL, &resp,
			  seal.sig, &served), 0);
		xf_buf_dispose(&req);
	}
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied),
		  XF_EUNKNOWNNODE);
	assert_unchanged(a, before);
	xf_buf_dispose(&resp);

	/* The real upstream's answer still lands. */
	assert_int_equal(sync_all(a, t), 1);
	assert_int_equal(pending(a), 0);
	assert_int_equal(count_events(a, "xiang-2"), 0);
	free(before);
}

static void test_apply_refuses_malformed_responses(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	xf_buf resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats served, applied;
	uint8_t noise[200];
	char *before;
	size_t cut, i;

	link_nodes(t, a, "child");
	open_cases(a, 2, NULL);
	request_and_serve(a, t, &push, &resp, &seal, &served);
	before = snapshot(a);
	for (cut = 0; cut < resp.len; cut++)
		assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, cut, seal.sig, WALL, &applied),
			  XF_EPROTO);
	srand(7);
	for (i = 0; i < 100; i++) {
		for (cut = 0; cut < sizeof(noise); cut++)
			noise[cut] = (uint8_t)rand();
		assert_rc(xf_sync_apply(a->store, &push, &seal.request, noise, sizeof(noise), seal.sig, WALL, &applied),
			  XF_EPROTO);
	}
	{
		/* A map without "node", or of another version. */
		static const uint8_t no_node[] = { 0x82, 0xa1, 'v', 0x01, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00 };
		static const uint8_t v2[] = { 0x83, 0xa1, 'v', 0x02, 0xa3, 'c', 'u', 'r', 0x92, 0x00, 0x00,
					      0xa4, 'n',  'o', 'd',  'e', 0xa7, 'x', 'i', 'a', 'n', 'g', '-', '1' };

		assert_rc(xf_sync_apply(a->store, &push, &seal.request, no_node, sizeof(no_node), seal.sig, WALL,
			  &applied), XF_EPROTO);
		assert_rc(xf_sync_apply(a->store, &push, &seal.request, v2, sizeof(v2), seal.sig, WALL, &applied),
			  XF_EPROTO);
	}
	assert_unchanged(a, before);
	/* The real one still applies. */
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_int_equal(pending(a), 0);
	xf_buf_dispose(&resp);
	free(before);
}

/* RESP rewritten as only a hostile or broken upstream answers: its "ack"
 * filled up to N_ACKS acknowledgements (0: left as it is) with origins no
 * node has, its pulled events of type DROP (NULL: none) left out, and
 * N_FOREIGN events of as many unknown origins (signed by KEY) pulled
 * after the rest. */
static void rewrite_response(xf_buf *resp, size_t n_acks, const char *drop, size_t n_foreign, const xf_key *key)
{
	msgpack_zone zone;
	msgpack_object root;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const msgpack_object *pull = NULL, *ack = NULL;
	size_t off = 0, i, n_ack, n_pull = 0;
	char id[XF_NODE_ID_MAX + 1];
	xf_event ev;
	uint32_t kept = 0;

	assert_true(msgpack_zone_init(&zone, 4096));
	assert_int_equal(msgpack_unpack((const char *)resp->data, resp->len, &off, &zone, &root),
			 MSGPACK_UNPACK_SUCCESS);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (i = 0; i < root.via.map.size; i++) {
		const msgpack_object_kv *kv = &root.via.map.ptr[i];

		if (kv->key.via.str.size == 4 && memcmp(kv->key.via.str.ptr, "pull", 4) == 0)
			pull = &kv->val;
		else if (kv->key.via.str.size == 3 && memcmp(kv->key.via.str.ptr, "ack", 3) == 0)
			ack = &kv->val;
		else
			kept++;
	}
	assert_non_null(pull);
	n_ack = ack ? ack->via.map.size : 0;
	assert_true(n_ack <= n_acks || n_acks == 0);
	msgpack_pack_map(&pk, kept + 2);
	for (i = 0; i < root.via.map.size; i++) {
		const msgpack_object_kv *kv = &root.via.map.ptr[i];

		if (&kv->val == pull || &kv->val == ack)
			continue;
		msgpack_pack_object(&pk, kv->key);
		msgpack_pack_object(&pk, kv->val);
	}
	pack_str(&pk, "ack");
	msgpack_pack_map(&pk, n_acks ? n_acks : n_ack);
	for (i = 0; i < n_ack; i++) {
		msgpack_pack_object(&pk, ack->via.map.ptr[i].key);
		msgpack_pack_object(&pk, ack->via.map.ptr[i].val);
	}
	for (i = n_ack; i < n_acks; i++) {
		snprintf(id, sizeof(id), "ack-%zu", i);
		pack_str(&pk, id);
		msgpack_pack_uint64(&pk, 0);
	}
	pack_str(&pk, "pull");
	for (i = 0; i < pull->via.array.size; i++) {
		assert_rc(xf_event_decode((const uint8_t *)pull->via.array.ptr[i].via.bin.ptr,
					  pull->via.array.ptr[i].via.bin.size, &ev), 0);
		n_pull += !drop || strcmp(ev.type, drop) != 0;
	}
	msgpack_pack_array(&pk, n_pull + n_foreign);
	for (i = 0; i < pull->via.array.size; i++) {
		assert_rc(xf_event_decode((const uint8_t *)pull->via.array.ptr[i].via.bin.ptr,
					  pull->via.array.ptr[i].via.bin.size, &ev), 0);
		if (!drop || strcmp(ev.type, drop) != 0)
			msgpack_pack_object(&pk, pull->via.array.ptr[i]);
	}
	for (i = 0; i < n_foreign; i++) {
		uint8_t *bytes;
		size_t len;

		assert_rc(xf_event_decode((const uint8_t *)pull->via.array.ptr[0].via.bin.ptr,
					  pull->via.array.ptr[0].via.bin.size, &ev), 0);
		snprintf(ev.origin, sizeof(ev.origin), "stranger-%zu", i);
		assert_rc(xf_event_encode(&ev, key, &bytes, &len), 0);
		msgpack_pack_bin(&pk, len);
		msgpack_pack_bin_body(&pk, bytes, len);
		free(bytes);
	}
	msgpack_zone_destroy(&zone);
	xf_buf_dispose(resp);
	resp->data = (uint8_t *)sb.data;
	resp->len = sb.size;
}

/* A copy of RESP, to rewrite. */
static void copy_response(xf_buf *out, const xf_buf *resp)
{
	out->data = malloc(resp->len);
	assert_non_null(out->data);
	memcpy(out->data, resp->data, resp->len);
	out->len = resp->len;
}

/* As many acknowledgements as a response may carry, pulled events of many
 * origins and a receipt: all of it is state to keep, however much; but
 * none of it while a pulled event came too early. */
static void test_apply_keeps_state_of_a_crowded_response(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1];
	xf_buf resp = { 0 }, crowded = { 0 };
	xf_sync_push push;
	struct seal crowded_seal, seal;
	xf_sync_stats served, applied;
	struct keys k = { 0 };
	size_t acks = 0;

	link_nodes(t, a, "child");
	open_cases(a, 1, ids);
	sync_all(a, t);
	note_on(t, ids, 1);
	open_cases(a, 1, NULL);
	request_and_serve(a, t, &push, &resp, &seal, &served);
	assert_int_equal(served.pulled, 1);
	/* 1024 acknowledgements, the township's own origin, 6 more and the
	 * two cursors: once exactly the room a fixed list had, and the
	 * receipt was written past its end. The 6 are of origins this
	 * village does not know (yet, as far as it can tell). */
	copy_response(&crowded, &resp);
	rewrite_response(&crowded, 1024, NULL, 6, t->key);
	crowded_seal = seal;
	reseal(t, &crowded_seal, &crowded);
	assert_rc(xf_sync_apply(a->store, &push, &crowded_seal.request, crowded.data, crowded.len, crowded_seal.sig,
		  WALL, &applied), 0);
	assert_int_equal(applied.pulled, 1);
	assert_int_equal(applied.rejected, 6);
	assert_int_equal(applied.first_error, XF_EUNKNOWNNODE);
	assert_true(pending(a) > 0);
	assert_rc(xf_store_state_scan(a->store, "receipt:", keys_cb, &k), 0);
	assert_int_equal(k.n, 1);
	keys_dispose(&k);
	assert_rc(xf_store_state_scan(a->store, "up:ack-", count_cb, &acks), 0);
	assert_int_equal(acks, 0);

	rewrite_response(&resp, 1024, NULL, 0, NULL);
	reseal(t, &seal, &resp);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_true(applied.receipt);
	assert_int_equal(applied.rejected, 0);
	assert_int_equal(pending(a), 0);
	assert_rc(xf_store_state_scan(a->store, "receipt:", keys_cb, &k), 0);
	assert_int_equal(k.n, 2);
	keys_dispose(&k);
	assert_rc(xf_store_state_scan(a->store, "up:ack-", count_cb, &acks), 0);
	assert_int_equal(acks, 1024 - 1);
	assert_sound(a);
	xf_buf_dispose(&resp);
	xf_buf_dispose(&crowded);
}

static void test_apply_refuses_tampered_receipt(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *b = node_init(f, 2, "cun-b", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1];
	xf_buf resp = { 0 }, b_resp = { 0 };
	xf_sync_push push, b_push;
	struct seal b_seal, seal;
	xf_sync_stats served, applied;
	size_t at, len = 0;
	char *before;
	struct keys k = { 0 };

	link_nodes(t, a, "child");
	link_nodes(t, b, "child");
	open_cases(a, 1, ids);
	sync_all(a, t);
	/* A response with everything in it: acknowledgement, receipt, and a
	 * pulled event. */
	note_on(t, ids, 1);
	open_cases(a, 2, NULL);
	request_and_serve(a, t, &push, &resp, &seal, &served);
	assert_int_equal(served.stored, 2);
	assert_int_equal(served.pulled, 1);
	before = snapshot(a);

	/* Each answer below is signed afresh by the township: only the
	 * receipt inside is wrong. */
	at = find_bin(&resp, "rcpt", &len);
	assert_true(len > XF_SIG_BYTES);
	/* A byte of the signature. */
	resp.data[at + len - 10] ^= 0x01;
	reseal(t, &seal, &resp);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied),
		  XF_EBADSIG);
	assert_unchanged(a, before);
	resp.data[at + len - 10] ^= 0x01;
	/* A byte of the head hash it vouches for (the bin before the last
	 * uint and the signature). */
	resp.data[at + len - XF_SIG_BYTES - 12] ^= 0x40;
	reseal(t, &seal, &resp);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied),
		  XF_EBADSIG);
	assert_unchanged(a, before);
	resp.data[at + len - XF_SIG_BYTES - 12] ^= 0x40;
	reseal(t, &seal, &resp);
	assert_int_equal(pending(a), 2);
	assert_int_equal(count_events(a, "xiang-1"), 0);

	/* A receipt genuinely signed by the township, but for another
	 * village: the answer to the other village's request. */
	open_cases(b, 1, NULL);
	request_and_serve(b, t, &b_push, &b_resp, &b_seal, &served);
	assert_rc(xf_sync_apply(a->store, &push, &b_seal.request, b_resp.data, b_resp.len, b_seal.sig, WALL, &applied),
		  XF_EBADSIG);
	assert_unchanged(a, before);
	xf_buf_dispose(&b_resp);

	/* Untouched, it lands whole. */
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_true(applied.receipt);
	assert_int_equal(applied.pulled, 1);
	assert_int_equal(pending(a), 0);
	assert_rc(xf_store_state_scan(a->store, "receipt:", keys_cb, &k), 0);
	assert_int_equal(k.n, 2);
	keys_dispose(&k);
	xf_buf_dispose(&resp);
	free(before);
}

/* Nothing in an answer is believed unless the upstream signed it as the
 * answer to this very request: a forged acknowledgement would stop the
 * village pushing records the township never got, an old answer would
 * hide what the township has sent since. */
static void test_apply_refuses_answer_not_signed_for_its_request(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *a = node_init(f, 1, "cun-a", "village");
	struct node *b = node_init(f, 2, "cun-b", "village");
	static const uint8_t ack_of_a[] = { 0xa3, 'a', 'c', 'k', 0x81, 0xa5, 'c', 'u', 'n', '-', 'a' };
	xf_buf req = { 0 }, resp = { 0 }, b_resp = { 0 };
	xf_sync_push push, b_push;
	struct seal seal, b_seal, later;
	xf_sync_stats served, applied;
	uint8_t *ack;
	char *before;

	link_nodes(t, a, "child");
	link_nodes(t, b, "child");
	open_cases(a, 2, NULL);
	request_body(a->store, &req, &push);
	seal.request = request_auth(a, WALL, &req);
	assert_rc(xf_sync_serve(t->store, t->key, &seal.request, req.data, req.len, WALL, &resp, seal.sig, &served), 0);
	assert_int_equal(served.stored, 4);
	before = snapshot(a);

	/* No signature, or one that is not base64 of a signature. */
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, NULL, WALL, &applied), XF_EBADSIG);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, "", WALL, &applied), XF_EBADSIG);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, "c2lnbmF0dXJl", WALL, &applied),
		  XF_EBADSIG);

	/* The acknowledgement of the village's own events raised on the way
	 * (4 to 127), with the signature that came. */
	ack = memmem(resp.data, resp.len, ack_of_a, sizeof(ack_of_a));
	assert_non_null(ack);
	assert_int_equal(ack[sizeof(ack_of_a)], 4);
	ack[sizeof(ack_of_a)] = 0x7f;
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied),
		  XF_EBADSIG);
	/* Signed again, by a key that is not the upstream's. */
	reseal(b, &seal, &resp);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied),
		  XF_EBADSIG);
	ack[sizeof(ack_of_a)] = 4;
	reseal(t, &seal, &resp);

	/* The same answer passed off as the answer to a later request of the
	 * same bytes, signed a second later. */
	later.request = request_auth(a, WALL + 1000, &req);
	memcpy(later.sig, seal.sig, sizeof(later.sig));
	assert_rc(xf_sync_apply(a->store, &push, &later.request, resp.data, resp.len, later.sig, WALL, &applied),
		  XF_EBADSIG);

	/* Another village's genuine answer, as if it were this one's. */
	open_cases(b, 1, NULL);
	request_and_serve(b, t, &b_push, &b_resp, &b_seal, &served);
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, b_resp.data, b_resp.len, b_seal.sig, WALL, &applied),
		  XF_EBADSIG);
	assert_unchanged(a, before);
	assert_int_equal(pending(a), 4);

	/* The answer as the township signed it lands. */
	assert_rc(xf_sync_apply(a->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_true(applied.receipt);
	assert_int_equal(pending(a), 0);
	xf_buf_dispose(&req);
	xf_buf_dispose(&resp);
	xf_buf_dispose(&b_resp);
	free(before);
}

/* ---- bundles ---- */

/* The status of the last child enrolled, into CTX. */
static int peer_seen(const xf_peer_status *p, void *ctx)
{
	xf_peer_status *out = ctx;

	if (p->relation == XF_PEER_CHILD)
		*out = *p;
	return 0;
}

static void read_file(const char *path, xf_buf *out)
{
	FILE *fp = fopen(path, "rb");
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	out->data = malloc((size_t)n + 1);
	assert_non_null(out->data);
	assert_int_equal(fread(out->data, 1, (size_t)n, fp), (size_t)n);
	out->len = (size_t)n;
	fclose(fp);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_bundle_export_and_import(void **state)
{
	struct fixture *f = *state;
	struct node *a = node_init(f, 0, "cun-a", "village");
	struct node *t1 = node_init(f, 1, "xiang-1", "township");
	struct node *t2 = node_init(f, 2, "xiang-2", "township");
	struct node *t3 = node_init(f, 3, "xiang-3", "township");
	struct node *t4 = node_init(f, 4, "xiang-4", "township");
	struct node *t5 = node_init(f, 5, "xiang-5", "township");
	const size_t total = XF_SYNC_BATCH_EVENTS + 100 + 2;
	char path[PATH_MAX], damaged[PATH_MAX];
	xf_buf file = { 0 }, again = { 0 };
	xf_ingest_stats st;
	size_t events = 0, frame1, frame2;

	link_nodes(t1, a, "child");
	assert_rc(enrol(t2, a, "child"), 0);
	assert_rc(enrol(t3, a, "child"), 0);
	assert_rc(enrol(t4, a, "child"), 0);
	open_cases(a, total - 2, NULL);

	unit_path(path, sizeof(path), f->dir, "cun-a.xfb");
	assert_rc(xf_bundle_export(a->store, path, &events), 0);
	assert_int_equal(events, total);
	/* Export moves nothing: the upstream has not said what it took. */
	assert_int_equal(pending(a), total);
	/* Petitioners' names travel in it: for this user's eyes only. */
	{
		struct stat sb;

		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	read_file(path, &file);
	assert_true(file.len > 10 + 8);
	assert_memory_equal(file.data, "XFBUNDLE1\n", 10);
	/* Two frames: a full batch, then the rest. */
	frame1 = 10;
	frame2 = frame1 + 4 + be32(file.data + frame1);
	assert_true(frame2 + 4 < file.len);
	assert_int_equal(frame2 + 4 + be32(file.data + frame2), file.len);

	/* Never over an existing file. */
	assert_rc(xf_bundle_export(a->store, path, &events), -EEXIST);
	read_file(path, &again);
	assert_int_equal(again.len, file.len);
	assert_memory_equal(again.data, file.data, file.len);
	xf_buf_dispose(&again);

	/* Imported, it is all there; imported again, nothing new. */
	assert_rc(xf_bundle_import(t1->store, path, WALL, &st, NULL), 0);
	assert_int_equal(st.stored, total);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(head_seq(t1, "cun-a", NULL), total);
	assert_int_equal(assert_sound(t1), 2 + total);
	/* The village was heard from, as by a sync: its status is current. */
	{
		xf_peer_status seen = { 0 };

		assert_rc(xf_status_peers(t1->store, peer_seen, &seen), 0);
		assert_string_equal(seen.node, "cun-a");
		assert_int_equal(seen.last_seen_ms, WALL);
		assert_int_equal(seen.head, total);
		assert_int_equal(seen.lag, 0);
	}
	assert_rc(xf_bundle_import(t1->store, path, WALL, &st, NULL), 0);
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.duplicates, total);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(assert_sound(t1), 2 + total);

	/* Cut short inside the second frame: the first lands, nothing
	 * more. */
	unit_path(damaged, sizeof(damaged), f->dir, "cut.xfb");
	unit_write_file(damaged, file.data, file.len - 100, 0600);
	assert_rc(xf_bundle_import(t2->store, damaged, WALL, &st, NULL), XF_EPROTO);
	assert_int_equal(head_seq(t2, "cun-a", NULL), XF_SYNC_BATCH_EVENTS);
	assert_int_equal(count_events(t2, "cun-a"), XF_SYNC_BATCH_EVENTS);
	assert_int_equal(assert_sound(t2), 2 + XF_SYNC_BATCH_EVENTS);
	/* Cut inside the second frame's length. */
	unlink(damaged);
	unit_write_file(damaged, file.data, frame2 + 2, 0600);
	assert_rc(xf_bundle_import(t2->store, damaged, WALL, &st, NULL), XF_EPROTO);
	assert_int_equal(st.duplicates, XF_SYNC_BATCH_EVENTS);
	assert_int_equal(count_events(t2, "cun-a"), XF_SYNC_BATCH_EVENTS);

	/* A byte flipped in the second frame's compressed data. */
	unlink(damaged);
	file.data[frame2 + 4 + (file.len - frame2 - 4) / 2] ^= 0x10;
	unit_write_file(damaged, file.data, file.len, 0600);
	file.data[frame2 + 4 + (file.len - frame2 - 4) / 2] ^= 0x10;
	assert_rc(xf_bundle_import(t3->store, damaged, WALL, &st, NULL), XF_EPROTO);
	assert_int_equal(count_events(t3, "cun-a"), XF_SYNC_BATCH_EVENTS);
	assert_int_equal(assert_sound(t3), 2 + XF_SYNC_BATCH_EVENTS);

	/* In the first frame: nothing lands. */
	unlink(damaged);
	file.data[frame1 + 4 + 1000] ^= 0x01;
	unit_write_file(damaged, file.data, file.len, 0600);
	file.data[frame1 + 4 + 1000] ^= 0x01;
	assert_rc(xf_bundle_import(t4->store, damaged, WALL, &st, NULL), XF_EPROTO);
	assert_int_equal(count_events(t4, "cun-a"), 0);
	/* Not a bundle at all. */
	unlink(damaged);
	unit_write_file(damaged, "XFBUNDLE2\n\0\0\0\0", 14, 0600);
	assert_rc(xf_bundle_import(t4->store, damaged, WALL, &st, NULL), XF_EPROTO);
	assert_int_equal(count_events(t4, "cun-a"), 0);
	assert_int_equal(assert_sound(t4), 2);

	/* A township that never enrolled the village takes none of it. */
	assert_rc(xf_bundle_import(t5->store, path, WALL, &st, NULL), 0);
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.rejected, total);
	assert_int_equal(st.first_error, XF_EUNKNOWNNODE);
	assert_int_equal(count_events(t5, "cun-a"), 0);

	/* The next sync with the upstream learns what the bundle carried:
	 * all acknowledged, nothing stored twice. */
	{
		struct round rd;
		size_t stored = 0, rounds = 0;

		do {
			assert_rc(sync_round(a, t1, &rd), 0);
			stored += rd.applied.stored;
			assert_true(++rounds < 10);
		} while (rd.applied.more);
		assert_int_equal(stored, 0);
		assert_int_equal(pending(a), 0);
	}
	xf_buf_dispose(&file);
}

/* ---- three tiers ---- */

static void test_county_accepts_villages_through_township(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *v1 = node_init(f, 2, "cun-a", "village");
	struct node *v2 = node_init(f, 3, "cun-b", "village");
	char ids1[3][XF_ENTITY_ID_MAX + 1];
	xf_peer p;
	struct round rd;
	uint8_t h1[XF_HASH_BYTES], h2[XF_HASH_BYTES];

	link_nodes(c, t, "township");
	link_nodes(t, v1, "child");
	link_nodes(t, v2, "child");
	open_cases(v1, 3, ids1);
	open_cases(v2, 2, NULL);
	sync_all(v1, t);
	sync_all(v2, t);

	/* The township's push: its own events (its enrolments of the county
	 * and of both villages) and both villages' chains. */
	assert_rc(sync_round(t, c, &rd), 0);
	assert_int_equal(rd.push.events, 4 + 5 + 4);
	assert_int_equal(rd.served.stored, 13);
	assert_int_equal(rd.served.rejected, 0);
	assert_int_equal(rd.served.first_error, 0);
	assert_true(rd.applied.receipt);
	assert_int_equal(pending(t), 0);

	assert_rc(xf_store_peer(c->store, "cun-a", &p), 0);
	assert_int_equal(p.relation, XF_PEER_DESCENDANT);
	assert_string_equal(p.parent, "xiang-1");
	assert_memory_equal(p.pubkey, v1->pubkey, XF_PUBKEY_BYTES);
	assert_rc(xf_store_peer(c->store, "cun-b", &p), 0);
	assert_int_equal(p.relation, XF_PEER_DESCENDANT);
	assert_int_equal(head_seq(c, "cun-a", h1), 5);
	assert_int_equal(head_seq(v1, "cun-a", h2), 5);
	assert_memory_equal(h1, h2, XF_HASH_BYTES);
	assert_int_equal(head_seq(c, "cun-b", NULL), 4);
	assert_int_equal(assert_sound(c), 2 + 13);

	/* More village work goes all the way up. */
	open_cases(v1, 2, NULL);
	sync_all(v1, t);
	assert_rc(sync_round(t, c, &rd), 0);
	assert_int_equal(rd.push.events, 2);
	assert_int_equal(rd.served.stored, 2);
	assert_int_equal(head_seq(c, "cun-a", NULL), 7);
	assert_int_equal(pending(t), 0);

	/* And the county's act on a village case comes all the way down, to
	 * that village only. */
	note_on(c, ids1, 1);
	assert_rc(sync_round(t, c, &rd), 0);
	assert_int_equal(rd.applied.pulled, 1);
	assert_int_equal(rd.push.events, 0);
	sync_all(v1, t);
	sync_all(v2, t);
	assert_int_equal(count_events(v1, "county-1"), 1);
	assert_int_equal(count_events(v2, "county-1"), 0);
	assert_holds_nothing_of(v2, "cun-a");
	assert_holds_nothing_of(v1, "cun-b");
	assert_sound(v1);
	assert_sound(v2);
	assert_sound(t);
	/* The county's event is not pushed back up by the township. */
	assert_rc(sync_round(t, c, &rd), 0);
	assert_int_equal(rd.push.events, 0);
	assert_int_equal(assert_sound(c), 2 + 15 + 1);
}

/* Village V's case, synced up to township T, which joined county C late;
 * C's note on it, synced down to T but not yet to V. */
static void county_note_at_township(struct node *c, struct node *t, struct node *v,
				    char ids[1][XF_ENTITY_ID_MAX + 1])
{
	link_nodes(t, v, "child");
	open_cases(v, 1, ids);
	sync_all(v, t);
	link_nodes(c, t, "township");
	sync_all(t, c);
	note_on(c, ids, 1);
	sync_all(t, c);
	assert_int_equal(count_events(t, "county-1"), 1);
}

/* A bundle from below carries a child's work up: one made by the node
 * above for its own upstream (a county's, a township's) brings the node
 * below nothing, or a village would hold what its township holds of every
 * other village. */
static void test_bundle_from_above_brings_nothing(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *v = node_init(f, 2, "cun-a", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1], county[PATH_MAX], township[PATH_MAX], made_for[XF_NODE_ID_MAX + 1];
	xf_ingest_stats st;
	size_t events = 0, t_events, v_events;

	county_note_at_township(c, t, v, ids);
	note_on(t, ids, 1);
	t_events = count_events(t, NULL);
	v_events = count_events(v, NULL);
	unit_path(county, sizeof(county), f->dir, "county.xfb");
	assert_rc(xf_bundle_export(c->store, county, &events), 0);
	assert_true(events > 0);
	assert_rc(xf_bundle_import(t->store, county, WALL, &st, NULL), 0);
	assert_int_equal(st.stored, 0);
	assert_true(st.rejected > 0);
	assert_int_equal(st.first_error, XF_ESCOPE);
	assert_int_equal(count_events(t, NULL), t_events);
	/* The township's own bundle, for the county, taken by its village. */
	unit_path(township, sizeof(township), f->dir, "township.xfb");
	assert_rc(xf_bundle_export(t->store, township, &events), 0);
	assert_true(events > 0);
	assert_rc(xf_bundle_import(v->store, township, WALL, &st, made_for), XF_ESCOPE);
	assert_string_equal(made_for, "");
	assert_int_equal(st.stored, 0);
	assert_int_equal(count_events(v, NULL), v_events);
	assert_sound(v);
	assert_sound(t);
}

/* A village whose only link is a USB stick: the township's bundle --for
 * it brings the township's and the county's acts on its cases and the
 * broadcast, and nothing of another village's. */
static void test_bundle_for_a_village_brings_its_decisions(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *v = node_init(f, 2, "cun-a", "village");
	struct node *w = node_init(f, 3, "cun-b", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1], w_ids[1][XF_ENTITY_ID_MAX + 1], path[PATH_MAX], again[PATH_MAX],
		made_for[XF_NODE_ID_MAX + 1];
	xf_ingest_stats st;
	size_t events = 0, w_events;

	county_note_at_township(c, t, v, ids);
	note_on(t, ids, 1);
	link_nodes(t, w, "child");
	open_cases(w, 1, w_ids);
	sync_all(w, t);
	note_on(t, w_ids, 1);
	w_events = count_events(w, NULL);

	unit_path(path, sizeof(path), f->dir, "for-cun-a.xfb");
	assert_rc(xf_bundle_export_for(t->store, "cun-a", path, &events), 0);
	assert_true(events > 0);
	assert_rc(xf_bundle_import(v->store, path, WALL, &st, made_for), 0);
	assert_string_equal(made_for, "cun-a");
	assert_int_equal(st.rejected, 0);
	/* The county's note, and the township's, on cun-a's case. */
	assert_int_equal(count_events(v, "county-1"), 1);
	assert_int_equal(entity_events(v, ids[0]), 3);
	assert_int_equal(entity_events(v, w_ids[0]), 0);
	assert_sound(v);
	/* Again: nothing new. */
	assert_rc(xf_bundle_import(v->store, path, WALL, &st, made_for), 0);
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.duplicates, events);
	/* The next sync pulls the same acts again; none is stored twice. */
	sync_all(v, t);
	assert_int_equal(entity_events(v, ids[0]), 3);
	assert_sound(v);

	/* Carried to the wrong village: refused whole. */
	assert_rc(xf_bundle_import(w->store, path, WALL, &st, made_for), XF_ESCOPE);
	assert_string_equal(made_for, "cun-a");
	assert_int_equal(st.stored, 0);
	assert_int_equal(count_events(w, NULL), w_events);
	/* Only for a child enrolled here. */
	unit_path(again, sizeof(again), f->dir, "for-nobody.xfb");
	assert_rc(xf_bundle_export_for(t->store, "cun-z", again, &events), XF_ENOTFOUND);
	assert_rc(xf_bundle_export_for(t->store, "county-1", again, &events), XF_ENOTFOUND);
	assert_int_equal(access(again, F_OK), -1);
}

/* The status of the child named in CTX's node, into CTX. */
static int peer_named(const xf_peer_status *p, void *ctx)
{
	xf_peer_status *out = ctx;

	if (strcmp(p->node, out->node) == 0)
		*out = *p;
	return 0;
}

/* A one-frame bundle at PATH carrying BLOBS: a push from below, or with
 * FOR_NODE set a pull made for that node, as a hand-made file would. */
static void write_bundle(const char *path, const char *for_node, const struct blobs *blobs)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	xf_buf wire = { 0 };
	uint8_t len[4];
	FILE *out;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, for_node ? 3 : 2);
	pack_str(&pk, "v");
	msgpack_pack_uint8(&pk, XF_SYNC_VERSION);
	if (for_node) {
		pack_str(&pk, "for");
		pack_str(&pk, for_node);
	}
	pack_str(&pk, for_node ? "pull" : "push");
	msgpack_pack_array(&pk, blobs->n);
	for (size_t i = 0; i < blobs->n; i++) {
		msgpack_pack_bin(&pk, blobs->b[i].len);
		msgpack_pack_bin_body(&pk, blobs->b[i].data, blobs->b[i].len);
	}
	assert_rc(xf_deflate((const uint8_t *)sb.data, sb.size, &wire), 0);
	out = fopen(path, "w");
	assert_non_null(out);
	len[0] = (uint8_t)(wire.len >> 24), len[1] = (uint8_t)(wire.len >> 16);
	len[2] = (uint8_t)(wire.len >> 8), len[3] = (uint8_t)wire.len;
	assert_int_equal(fwrite("XFBUNDLE1\n", 1, 10, out), 10);
	assert_int_equal(fwrite(len, 1, 4, out), 4);
	assert_int_equal(fwrite(wire.data, 1, wire.len, out), wire.len);
	assert_int_equal(fclose(out), 0);
	xf_buf_dispose(&wire);
	msgpack_sbuffer_destroy(&sb);
}

/* A bundle made for a node brings it only what came from above: its own
 * events, or a child's, in one are refused. */
static void test_bundle_for_a_node_takes_only_events_from_above(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *v = node_init(f, 1, "cun-a", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1], path[PATH_MAX], made_for[XF_NODE_ID_MAX + 1];
	struct blobs own = { 0 };
	xf_ingest_stats st;

	link_nodes(t, v, "child");
	open_cases(v, 1, ids);
	sync_all(v, t);
	assert_rc(xf_store_scan_bytes(t->store, "cun-a", 1, blobs_cb, &own), 0);
	/* A frame "for" the township carrying its village's events. */
	unit_path(path, sizeof(path), f->dir, "forged.xfb");
	write_bundle(path, "xiang-1", &own);
	assert_rc(xf_bundle_import(t->store, path, WALL, &st, made_for), 0);
	assert_string_equal(made_for, "xiang-1");
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.rejected, own.n);
	assert_int_equal(st.first_error, XF_ESCOPE);
	assert_sound(t);
	blobs_dispose(&own);
}

/* A bundle of forgeries in a village's name says nothing of the village:
 * it is not heard from. */
static void test_bundle_of_forgeries_is_no_contact(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *v = node_init(f, 1, "cun-a", "village");
	xf_peer_status row = { 0 };
	struct blobs forged = { 0 };
	char path[PATH_MAX];
	xf_ingest_stats st;
	size_t i;

	link_nodes(t, v, "child");
	open_cases(v, 2, NULL);
	assert_rc(xf_store_scan_bytes(v->store, "cun-a", 1, blobs_cb, &forged), 0);
	for (i = 0; i < forged.n; i++)
		((uint8_t *)forged.b[i].data)[forged.b[i].len - 1] ^= 0x01;
	unit_path(path, sizeof(path), f->dir, "forged.xfb");
	write_bundle(path, NULL, &forged);
	assert_rc(xf_bundle_import(t->store, path, WALL, &st, NULL), 0);
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.rejected, forged.n);
	snprintf(row.node, sizeof(row.node), "cun-a");
	assert_rc(xf_status_peers(t->store, peer_named, &row), 0);
	assert_int_equal(row.last_seen_ms, 0);
	blobs_dispose(&forged);
}

/* A bundle is a contact, but it carries no clock: the skew shown stays
 * what the last sync measured, however long the stick travelled. */
static void test_a_bundle_leaves_the_skew_as_measured(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *v = node_init(f, 1, "cun-a", "village");
	const uint64_t day = 86400000;
	xf_peer_status before = { 0 }, after = { 0 };
	char path[PATH_MAX];
	xf_ingest_stats st;
	struct round rd;
	size_t events;

	link_nodes(t, v, "child");
	open_cases(v, 1, NULL);
	assert_rc(sync_round_at(v, WALL, t, WALL + 2000, &rd), 0);
	snprintf(before.node, sizeof(before.node), "cun-a");
	assert_rc(xf_status_peers(t->store, peer_named, &before), 0);
	assert_true(before.skew_known);
	open_cases(v, 1, NULL);
	unit_path(path, sizeof(path), f->dir, "stick.xfb");
	assert_rc(xf_bundle_export(v->store, path, &events), 0);
	assert_rc(xf_bundle_import(t->store, path, WALL + day, &st, NULL), 0);
	assert_int_equal(st.stored, 1);
	snprintf(after.node, sizeof(after.node), "cun-a");
	assert_rc(xf_status_peers(t->store, peer_named, &after), 0);
	assert_int_equal(after.last_seen_ms, WALL + day);
	assert_true(after.skew_known);
	assert_int_equal(after.skew_ms, before.skew_ms);
}

/* A village whose clock is an hour slow signs with the offset it learnt
 * from a refusal and tells it: the township shows the clock's own skew,
 * not the corrected one. */
static void test_the_upstream_shows_the_skew_of_a_corrected_clock(void **state)
{
	struct fixture *f = *state;
	struct node *t = node_init(f, 0, "xiang-1", "township");
	struct node *v = node_init(f, 1, "cun-a", "village");
	const int64_t hour = 3600000;
	xf_peer_status row = { 0 };
	xf_buf wire = { 0 }, body = { 0 }, resp = { 0 };
	xf_sync_push push;
	xf_sync_stats st;
	struct seal seal;
	bool deflated;

	link_nodes(t, v, "child");
	open_cases(v, 1, NULL);
	assert_rc(xf_sync_request(v->store, "test/1", XF_CLOCK_OFFSET_MAX_MS + 1, NULL, &wire, &deflated, &push),
		  -EINVAL);
	assert_rc(xf_sync_request(v->store, "test/1", hour, NULL, &wire, &deflated, &push), 0);
	assert_true(deflated);
	assert_rc(xf_inflate(wire.data, wire.len, XF_SYNC_BODY_MAX, true, &body), 0);
	/* Its clock reads WALL - hour; it signs with WALL, served 2 s later. */
	seal.request = request_auth(v, WALL, &body);
	assert_rc(xf_sync_serve(t->store, t->key, &seal.request, body.data, body.len, WALL + 2000, &resp, seal.sig,
				&st),
		  0);
	assert_int_equal(st.stored, st.pushed);
	snprintf(row.node, sizeof(row.node), "cun-a");
	assert_rc(xf_status_peers(t->store, peer_named, &row), 0);
	assert_true(row.skew_known);
	assert_int_equal(row.skew_ms, -hour - 2000);
	xf_buf_dispose(&wire);
	xf_buf_dispose(&body);
	xf_buf_dispose(&resp);
}

struct clash {
	struct node *c, *t1, *t2, *a, *b;
};

/* The county C, townships T1 and T2 each enrolling a village "cun-x" by
 * mistake (A under T1, B under T2, two keys), A's two cases at C through
 * T1; B has recorded B_CASES cases (their ids into B_IDS), synced to T2. */
static struct clash clashing_village_ids(struct fixture *f, size_t b_cases, char (*b_ids)[XF_ENTITY_ID_MAX + 1])
{
	struct clash w = { node_init(f, 0, "county-1", "county"), node_init(f, 1, "xiang-1", "township"),
			   node_init(f, 2, "xiang-2", "township"), node_init(f, 3, "cun-x", "village"), &f->n[4] };
	char other[PATH_MAX];

	unit_path(other, sizeof(other), f->dir, "elsewhere");
	assert_int_equal(mkdir(other, 0700), 0);
	node_create(w.b, other, "cun-x", "village");
	link_nodes(w.t1, w.a, "child");
	link_nodes(w.t2, w.b, "child");
	link_nodes(w.c, w.t1, "township");
	link_nodes(w.c, w.t2, "township");
	open_cases(w.a, 2, NULL);
	open_cases(w.b, b_cases, b_ids);
	sync_all(w.a, w.t1);
	sync_all(w.b, w.t2);
	sync_all(w.t1, w.c);
	return w;
}

/* Two townships enrol a village each under the same id, by mistake: the
 * county holds the first one's log under that id, and the second's push
 * of its own village's events must not be acknowledged as held. */
static void test_another_history_under_a_known_id_is_not_acknowledged(void **state)
{
	struct clash w = clashing_village_ids(*state, 2, NULL);
	struct round rd;

	assert_int_equal(count_events(w.c, "cun-x"), 4);
	assert_rc(sync_round(w.t2, w.c, &rd), 0);
	assert_true(rd.applied.rejected > 0);
	/* The second village's events are still waiting to reach the county. */
	assert_int_equal(pending(w.t2), count_events(w.t2, "cun-x"));
	assert_int_equal(count_events(w.c, "cun-x"), 4);
	assert_sound(w.c);
	/* The county's status names the clash on the second township's row. */
	{
		xf_peer_status row = { 0 };

		snprintf(row.node, sizeof(row.node), "xiang-2");
		assert_rc(xf_status_peers(w.c->store, peer_named, &row), 0);
		assert_string_equal(row.last_error,
				    "enrolled cun-x with another key than xiang-1 gave it first: its events through here are refused");
	}
}

/* The second township of a village id enrolled twice opens a case from
 * its village's record, which the county takes for the first township's:
 * the township's own log must go on landing all the same (a refusal of
 * one of its events would refuse every later one as a broken chain). */
static void test_a_case_on_a_clashing_village_id_does_not_stop_the_township(void **state)
{
	char b_case[1][XF_ENTITY_ID_MAX + 1], id[XF_ENTITY_ID_MAX + 1];
	struct clash w = clashing_village_ids(*state, 1, b_case);
	const char *froms[1] = { b_case[0] };
	struct round rd;

	open_case_from(w.t2, froms, 1, id);
	open_cases(w.t2, 3, NULL);
	assert_rc(sync_round(w.t2, w.c, &rd), 0);
	assert_int_equal(count_events(w.c, "xiang-2"), count_events(w.t2, "xiang-2"));
}

static int blobs_all_cb(const uint8_t *bytes, size_t len, uint64_t seq, void *ctx)
{
	xf_blob *b = ctx;

	(void)seq;
	assert_null(b->data);
	b->data = malloc(len);
	assert_non_null(b->data);
	memcpy((void *)b->data, bytes, len);
	b->len = len;
	return 0;
}

/* A county holds every village of every township: more origins than any
 * fixed table should hold. The township above them still counts what it
 * has to send, sends it all, and is acknowledged for all. */
static void test_a_township_with_1030_villages_syncs_up(void **state)
{
	struct fixture *f = *state;
	enum { VILLAGES = 1030 };
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node v = { 0 };
	xf_ingest_stats st;
	xf_status status;
	uint64_t before;
	char id[16];
	xf_blob first;
	size_t i;

	link_nodes(c, t, "township");
	for (i = 0; i < VILLAGES; i++) {
		snprintf(id, sizeof(id), "cun-%zu", i);
		node_create(&v, f->dir, id, "village");
		first = (xf_blob){ NULL, 0 };
		assert_rc(xf_store_scan_bytes(v.store, id, 1, blobs_all_cb, &first), 0);
		assert_rc(enrol(t, &v, "child"), 0);
		assert_rc(xf_store_ingest(t->store, &first, 1, WALL, NULL, &st), 0);
		assert_int_equal(st.stored, 1);
		free((void *)first.data);
		node_close(&v);
	}
	before = pending(t);
	assert_true(before > 2 * VILLAGES);
	sync_all(t, c);
	assert_int_equal(pending(t), 0);
	assert_int_equal(count_events(c, "cun-1029"), 1);
	/* The county's status reads all its origins. */
	assert_rc(xf_status_read(c->store, &status), 0);
	assert_int_equal(status.events, count_events(c, NULL));
	assert_sound(c);
}

/* A township that joins a county after its villages last synced: the
 * county's act on a village case must still reach the village (its pull
 * then carries both the act and the enrolment of the county that
 * verifies it). */
static void test_county_act_reaches_village_after_late_join(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *v1 = node_init(f, 2, "cun-a", "village");
	char ids1[1][XF_ENTITY_ID_MAX + 1];
	struct round rd;
	size_t rounds = 0, rejected = 0;
	int first_error = 0;

	county_note_at_township(c, t, v1, ids1);

	/* However many rounds it takes, the village ends with the act. */
	do {
		assert_rc(sync_round(v1, t, &rd), 0);
		rejected += rd.applied.rejected;
		if (!first_error)
			first_error = rd.applied.first_error;
	} while (++rounds < 4);
	if (count_events(v1, "county-1") != 1)
		fail_msg("the village never got the county's act (%zu pulled events refused, first: %s)", rejected,
			 xf_strerror(first_error));
	assert_sound(v1);
}

/* A county's act pulled before the key that proves it (the township's
 * enrolment of the county, on the broadcast feed) is refused as come too
 * early, and the village's cursors wait for it: the next sync brings both. */
static void test_event_pulled_before_its_key_comes_again(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *v = node_init(f, 2, "cun-a", "village");
	char ids[1][XF_ENTITY_ID_MAX + 1];
	xf_buf resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats served, applied;
	struct round rd;
	int rounds;

	county_note_at_township(c, t, v, ids);
	request_and_serve(v, t, &push, &resp, &seal, &served);
	rewrite_response(&resp, 0, "node.enrolled", 0, NULL);
	reseal(t, &seal, &resp);
	assert_rc(xf_sync_apply(v->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL, &applied), 0);
	assert_int_equal(applied.rejected, 1);
	assert_int_equal(applied.first_error, XF_EUNKNOWNNODE);
	/* refused here, not by the upstream: nothing to leave out of a push */
	assert_string_equal(applied.first_refused_up, "");
	assert_int_equal(count_events(v, "county-1"), 0);
	xf_buf_dispose(&resp);

	for (rounds = 0; rounds < 3 && count_events(v, "county-1") == 0; rounds++)
		assert_rc(sync_round(v, t, &rd), 0);
	assert_int_equal(count_events(v, "county-1"), 1);
	assert_sound(v);
}

/* Only a township speaks for villages: a village (or a township enrolled
 * as a plain child) that enrols nodes of its own cannot bring them in. */
static void test_village_cannot_introduce_nodes(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *v = node_init(f, 2, "cun-a", "village");
	struct node *r = node_init(f, 3, "cun-rogue", "village");
	struct node *r2 = node_init(f, 4, "cun-rogue2", "village");
	xf_peer p;
	struct round rd;

	link_nodes(c, t, "township");
	link_nodes(t, v, "child");
	/* The village claims children; one of them has a log it relays. */
	assert_rc(enrol(v, r, "child"), 0);
	assert_rc(enrol(v, r2, "township"), 0);
	assert_rc(enrol(r, v, "upstream"), 0);
	open_cases(r, 2, NULL);
	assert_int_equal(sync_all(r, v), 1);
	assert_int_equal(count_events(v, "cun-rogue"), 4);
	assert_rc(xf_store_peer(v->store, "cun-rogue", &p), 0);
	assert_int_equal(p.relation, XF_PEER_CHILD);

	/* Up to the township: the village's own events land; the claimed
	 * node is unknown, its events refused. */
	assert_rc(sync_round(v, t, &rd), 0);
	assert_int_equal(rd.push.events, 4 + 4);
	assert_int_equal(rd.served.stored, 4);
	assert_int_equal(rd.served.rejected, 4);
	assert_int_equal(rd.served.first_error, XF_EUNKNOWNNODE);
	assert_rc(xf_store_peer(t->store, "cun-rogue", &p), XF_ENOTFOUND);
	assert_rc(xf_store_peer(t->store, "cun-rogue2", &p), XF_ENOTFOUND);
	assert_int_equal(count_events(t, "cun-rogue"), 0);
	assert_int_equal(head_seq(t, "cun-a", NULL), 4);
	assert_sound(t);

	/* Up to the county: the village is known through its township, the
	 * nodes it claims are not. */
	sync_all(t, c);
	assert_rc(xf_store_peer(c->store, "cun-a", &p), 0);
	assert_int_equal(p.relation, XF_PEER_DESCENDANT);
	assert_rc(xf_store_peer(c->store, "cun-rogue", &p), XF_ENOTFOUND);
	assert_rc(xf_store_peer(c->store, "cun-rogue2", &p), XF_ENOTFOUND);
	assert_int_equal(count_events(c, "cun-rogue"), 0);
	assert_int_equal(head_seq(c, "cun-a", NULL), 4);
	assert_sound(c);
}

/* A county that enrolled a township as a plain "child" does not take its
 * word for villages. */
static void test_plain_child_township_does_not_speak_for_villages(void **state)
{
	struct fixture *f = *state;
	struct node *c = node_init(f, 0, "county-1", "county");
	struct node *t = node_init(f, 1, "xiang-1", "township");
	struct node *v = node_init(f, 2, "cun-a", "village");
	xf_peer p;
	struct round rd;

	link_nodes(c, t, "child");
	link_nodes(t, v, "child");
	open_cases(v, 2, NULL);
	sync_all(v, t);
	assert_rc(sync_round(t, c, &rd), 0);
	assert_int_equal(rd.push.events, 3 + 4);
	assert_int_equal(rd.served.stored, 3);
	assert_int_equal(rd.served.rejected, 4);
	assert_int_equal(rd.served.first_error, XF_EUNKNOWNNODE);
	assert_rc(xf_store_peer(c->store, "cun-a", &p), XF_ENOTFOUND);
	assert_int_equal(count_events(c, "cun-a"), 0);
	assert_sound(c);
}

#define FIXTURE_TEST(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

/* A push signed before the last one served (a duplicate on the wire, a
 * captured request sent again) stores nothing twice, raises no rollback
 * alarm, and leaves what the township knows of the village as the newer
 * request left it. */
static void test_a_late_replay_is_no_rollback(void **state)
{
	xf_peer_status seen = { 0 };
	struct fixture *f = *state;
	struct node *town = node_init(f, 0, "town", "township");
	struct node *v = node_init(f, 1, "village-1", "village");
	xf_buf old = { 0 }, newer = { 0 }, resp = { 0 };
	xf_sync_push push;
	struct seal seal;
	xf_sync_stats st;
	uint64_t held;
	uint8_t hash[XF_HASH_BYTES];

	link_nodes(town, v, "child");
	open_cases(v, 3, NULL);
	request_body(v->store, &old, &push);
	assert_rc(xf_sync_serve(town->store, town->key, seal_from(&seal, v->id, WALL + 1000), old.data, old.len,
		  WALL + 1000, &resp, seal.sig, &st), 0);
	assert_false(st.rollback);
	assert_rc(xf_sync_apply(v->store, &push, &seal.request, resp.data, resp.len, seal.sig, WALL + 1000, &st), 0);
	xf_buf_dispose(&resp);
	open_cases(v, 2, NULL);
	request_body(v->store, &newer, &push);
	assert_rc(xf_sync_serve(town->store, town->key, seal_from(&seal, v->id, WALL + 2000), newer.data, newer.len,
		  WALL + 2000, &resp, seal.sig, &st), 0);
	assert_int_equal(st.stored, 2);
	xf_buf_dispose(&resp);
	assert_rc(xf_store_head(town->store, v->id, &held, hash), 0);

	/* The first request again, later: it was signed before the newer one. */
	assert_rc(xf_sync_serve(town->store, town->key, seal_from(&seal, v->id, WALL + 1000), old.data, old.len,
		  WALL + 3000, &resp, seal.sig, &st), 0);
	assert_false(st.rollback);
	assert_int_equal(st.stored, 0);
	xf_buf_dispose(&resp);
	assert_rc(xf_store_head(town->store, v->id, &held, hash), 0);
	assert_int_equal(held, 2 + 3 + 2);
	/* What the township knows of the village is the newer request's. */
	assert_rc(xf_status_peers(town->store, peer_seen, &seen), 0);
	assert_int_equal(seen.head, 2 + 3 + 2);
	assert_int_equal(seen.last_seen_ms, WALL + 2000);

	/* Signed long before the last (more than the signature's window
	 * allows a replay): a client whose clock was set back, judged as new. */
	assert_rc(xf_sync_serve(town->store, town->key, seal_from(&seal, v->id,
		  WALL + 2000 - 2 * XF_AUTH_WINDOW_MS - 1), old.data,
				old.len, WALL + 3500, &resp, seal.sig, &st), 0);
	assert_true(st.rollback);
	xf_buf_dispose(&resp);

	/* A request signed later that claims less than the township holds is
	 * a rollback all the same. */
	assert_rc(xf_sync_serve(town->store, town->key, seal_from(&seal, v->id, WALL + 4000), old.data, old.len,
		  WALL + 4000, &resp, seal.sig, &st), 0);
	assert_true(st.rollback);
	xf_buf_dispose(&resp);
	xf_buf_dispose(&old);
	xf_buf_dispose(&newer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_first_sync_pushes_everything),
		FIXTURE_TEST(test_receipt_is_kept_and_verifies),
		FIXTURE_TEST(test_pull_is_scoped_to_the_village),
		FIXTURE_TEST(test_feeds_take_events_in_any_order),
		FIXTURE_TEST(test_large_backlog_goes_in_batches),
		FIXTURE_TEST(test_lost_response_is_repeated_harmlessly),
		FIXTURE_TEST(test_response_applied_twice),
		FIXTURE_TEST(test_serve_refuses_nodes_that_are_not_children),
		FIXTURE_TEST(test_serve_refuses_unenrolled_node),
		FIXTURE_TEST(test_serve_refuses_malformed_requests),
		FIXTURE_TEST(test_refused_events_are_reported),
		FIXTURE_TEST(test_one_child_takes_at_most_its_share_of_evidence),
		FIXTURE_TEST(test_apply_refuses_response_from_other_than_upstream),
		FIXTURE_TEST(test_apply_refuses_malformed_responses),
		FIXTURE_TEST(test_apply_refuses_tampered_receipt),
		FIXTURE_TEST(test_apply_refuses_answer_not_signed_for_its_request),
		FIXTURE_TEST(test_apply_keeps_state_of_a_crowded_response),
		FIXTURE_TEST(test_bundle_export_and_import),
		FIXTURE_TEST(test_bundle_from_above_brings_nothing),
		FIXTURE_TEST(test_another_history_under_a_known_id_is_not_acknowledged),
		FIXTURE_TEST(test_a_township_with_1030_villages_syncs_up),
		FIXTURE_TEST(test_bundle_for_a_village_brings_its_decisions),
		FIXTURE_TEST(test_bundle_for_a_node_takes_only_events_from_above),
		FIXTURE_TEST(test_bundle_of_forgeries_is_no_contact),
		FIXTURE_TEST(test_a_case_on_another_villages_record_is_refused),
		FIXTURE_TEST(test_a_refused_origin_is_left_out),
		FIXTURE_TEST(test_a_townships_case_on_its_villages_record_reaches_the_county),
		FIXTURE_TEST(test_a_case_on_a_clashing_village_id_does_not_stop_the_township),
		FIXTURE_TEST(test_a_bundle_leaves_the_skew_as_measured),
		FIXTURE_TEST(test_the_upstream_shows_the_skew_of_a_corrected_clock),
		FIXTURE_TEST(test_county_accepts_villages_through_township),
		FIXTURE_TEST(test_county_act_reaches_village_after_late_join),
		FIXTURE_TEST(test_event_pulled_before_its_key_comes_again),
		FIXTURE_TEST(test_village_cannot_introduce_nodes),
		FIXTURE_TEST(test_plain_child_township_does_not_speak_for_villages),
		FIXTURE_TEST(test_a_late_replay_is_no_rollback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
