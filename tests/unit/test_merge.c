/* The merge rules (core/MERGE.md) on real stores synced in process: what
 * conflicts and what does not, causal order under wrong clocks, stored
 * projections, rebuild, and a property test over a thousand random
 * scenarios. A failing scenario prints its seed; XF_MERGE_SEED=N runs
 * that one alone, XF_MERGE_SCENARIOS=N runs N of them. */
#include <lmdb.h>
#include <stdarg.h>

#include "unit.h"
#include "nodes.h"
#include "xf/project.h"

#define DAY_MS (24ull * 3600 * 1000)

/* Record TYPE on ENTITY at WALL_MS, or, when ENTITY is NULL, a new case
 * (its id into CREATED). The body's fields follow as "key", "value"
 * pairs ended by NULL. Returns the store's code; the event's id goes into
 * EVENT when not NULL. */
static int act_at(struct node *n, uint64_t wall_ms, const char *type, const char *entity,
		  char created[XF_ENTITY_ID_MAX + 1], char event[XF_EVENT_ID_MAX + 1], ...)
{
	xf_draft d = { .type = type, .entity = entity, .new_kind = entity ? 0 : 'C', .author = "clerk" };
	xf_appended done;
	xf_body *body = NULL;
	const char *key;
	va_list ap;
	int r;

	assert_rc(xf_body_new(&body), 0);
	va_start(ap, event);
	while ((key = va_arg(ap, const char *)))
		assert_rc(xf_body_put_str(body, key, va_arg(ap, const char *), 4000), 0);
	va_end(ap);
	assert_rc(xf_body_bytes(body, &d.body, &d.body_len), 0);
	r = xf_store_append(n->store, n->key, &d, 1, wall_ms, &done);
	xf_body_free(body);
	if (r == 0 && created)
		strcpy(created, done.entity);
	if (r == 0 && event)
		xf_event_id(n->id, done.seq, event);
	return r;
}

#define act(n, type, entity, ...) act_at(n, WALL, type, entity, NULL, __VA_ARGS__, NULL)

static xf_entity *load(struct node *n, const char *id)
{
	xf_entity *e = NULL;

	assert_rc(xf_entity_load(n->store, id, &e), 0);
	return e;
}

static const char *attr_text(const xf_entity *e, const char *name)
{
	const xf_attr *a = xf_entity_attr(e, name);

	return a && a->type == XF_VALUE_STR ? a->str : "";
}

/* The stored form of entity ID on N; the caller frees it. */
static uint8_t *stored(struct node *n, const char *id, size_t *len)
{
	xf_entity *e = load(n, id);
	uint8_t *bytes = NULL;

	assert_rc(xf_entity_encode(e, &bytes, len), 0);
	xf_entity_free(e);
	return bytes;
}

static void assert_same_projection(struct node *a, struct node *b, const char *id)
{
	size_t la, lb;
	uint8_t *pa = stored(a, id, &la), *pb = stored(b, id, &lb);

	if (la != lb || memcmp(pa, pb, la) != 0)
		fail_msg("%s differs between %s and %s", id, a->id, b->id);
	free(pa);
	free(pb);
}

static int count_cb(const char *entity, void *ctx)
{
	(void)entity;
	++*(size_t *)ctx;
	return 0;
}

static size_t conflicted(struct node *n)
{
	size_t count = 0;

	assert_rc(xf_store_conflicts(n->store, count_cb, &count), 0);
	return count;
}

struct pair {
	char dir[PATH_MAX];
	struct node town, village;
	char case_id[XF_ENTITY_ID_MAX + 1];
};

/* A township and one village that opened a case and synced it. */
static void pair_setup(struct pair *p, const char *dir)
{
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	node_create(&p->town, dir, "town", "township");
	node_create(&p->village, dir, "village", "village");
	link_nodes(&p->town, &p->village, "child");
	assert_rc(act_at(&p->village, WALL, "case.opened", NULL, p->case_id, NULL, "title", "征地补偿", NULL), 0);
	sync_all(&p->village, &p->town);
}

static void pair_close(struct pair *p)
{
	node_close(&p->town);
	node_close(&p->village);
}

static void test_concurrent_writes_of_one_field_conflict_until_resolved(void **state)
{
	struct pair p;
	char by_village[XF_EVENT_ID_MAX + 1], by_town[XF_EVENT_ID_MAX + 1];
	xf_entity *e;
	xf_body *body = NULL;
	xf_draft d = { .type = "conflict.resolved", .author = "clerk" };
	size_t i;

	pair_setup(&p, *state);
	assert_rc(act_at(&p.village, WALL, "case.assigned", p.case_id, NULL, by_village, "leader", "李主任", NULL), 0);
	assert_rc(act_at(&p.town, WALL, "case.assigned", p.case_id, NULL, by_town, "leader", "王书记", NULL), 0);
	sync_all(&p.village, &p.town);
	assert_same_projection(&p.village, &p.town, p.case_id);
	e = load(&p.town, p.case_id);
	assert_int_equal(e->n_conflicts, 1);
	assert_string_equal(e->conflicts[0].field, "leader");
	assert_int_equal(e->conflicts[0].n, 2);
	for (i = 0; i < 2; i++)
		assert_true(strcmp(e->conflicts[0].rivals[i].event, by_village) == 0 ||
			    strcmp(e->conflicts[0].rivals[i].event, by_town) == 0);
	/* The winner is a rival's value, whichever node looks. */
	assert_true(strcmp(attr_text(e, "leader"), "李主任") == 0 || strcmp(attr_text(e, "leader"), "王书记") == 0);
	assert_int_equal(conflicted(&p.town), 1);
	assert_int_equal(conflicted(&p.village), 1);

	/* Not a rival: refused. The village's value is kept. */
	assert_rc(xf_entity_resolution(e, "town:1", &body), XF_ENOTFOUND);
	assert_rc(xf_entity_resolution(e, by_village, &body), 0);
	d.entity = p.case_id;
	assert_rc(xf_body_bytes(body, &d.body, &d.body_len), 0);
	assert_rc(xf_store_append(p.town.store, p.town.key, &d, 1, WALL, NULL), 0);
	xf_body_free(body);
	xf_entity_free(e);
	assert_int_equal(conflicted(&p.town), 0);
	assert_int_equal(conflicted(&p.village), 1);
	sync_all(&p.village, &p.town);
	assert_int_equal(conflicted(&p.village), 0);
	assert_same_projection(&p.village, &p.town, p.case_id);
	e = load(&p.village, p.case_id);
	assert_string_equal(attr_text(e, "leader"), "李主任");
	assert_int_equal(e->n_conflicts, 0);
	xf_entity_free(e);
	/* A second resolution has nothing to settle. */
	assert_rc(act(&p.town, "conflict.resolved", p.case_id, NULL, "keep", by_town), XF_ESTATE);
	pair_close(&p);
}

static void test_concurrent_writes_of_different_fields_both_apply(void **state)
{
	struct pair p;
	xf_entity *e;

	pair_setup(&p, *state);
	assert_rc(act(&p.village, "case.replied", p.case_id, NULL, "reply", "已答复", "due", "2024-07-01"), 0);
	assert_rc(act(&p.village, "case.noted", p.case_id, NULL, "text", "村里记录"), 0);
	assert_rc(act(&p.town, "case.noted", p.case_id, NULL, "text", "镇里督办"), 0);
	assert_rc(act(&p.town, "case.dispatched", p.case_id, NULL, "text", "司法所两人"), 0);
	sync_all(&p.village, &p.town);
	assert_same_projection(&p.village, &p.town, p.case_id);
	e = load(&p.village, p.case_id);
	assert_int_equal(e->n_conflicts, 0);
	assert_string_equal(e->status, "replied");
	assert_string_equal(attr_text(e, "due"), "2024-07-01");
	assert_int_equal(e->n_items, 3); /* two notes, one work group */
	xf_entity_free(e);
	assert_int_equal(conflicted(&p.town), 0);
	pair_close(&p);
}

/* Clocks days wrong either way: an edit made after seeing another wins
 * over it and does not conflict with it. */
static void test_wrong_clocks_still_merge_in_causal_order(void **state)
{
	static const int64_t skews[] = { -3 * (int64_t)DAY_MS, 3 * (int64_t)DAY_MS };
	char dir[PATH_MAX];
	struct pair p;
	xf_entity *e;
	size_t i;

	for (i = 0; i < sizeof(skews) / sizeof(skews[0]); i++) {
		uint64_t village_wall = (uint64_t)((int64_t)WALL + skews[i]);

		snprintf(dir, sizeof(dir), "%s/skew%zu", (char *)*state, i);
		assert_int_equal(mkdir(dir, 0700), 0);
		pair_setup(&p, dir);
		/* Village first, then the township answers after seeing it. */
		assert_rc(act_at(&p.village, village_wall, "case.assigned", p.case_id, NULL, NULL, "leader", "李主任",
				 NULL), 0);
		sync_all_at(&p.village, village_wall, &p.town, WALL);
		assert_rc(act_at(&p.town, WALL, "case.assigned", p.case_id, NULL, NULL, "leader", "王书记", NULL), 0);
		sync_all_at(&p.village, village_wall + 1000, &p.town, WALL + 1000);
		/* And the village answers the township. */
		assert_rc(act_at(&p.village, village_wall + 2000, "case.noted", p.case_id, NULL, NULL, "text", "已知悉",
				 NULL), 0);
		assert_rc(act_at(&p.village, village_wall + 2000, "case.closed", p.case_id, NULL, NULL, "outcome",
				 "办结", NULL), 0);
		sync_all_at(&p.village, village_wall + 3000, &p.town, WALL + 3000);
		assert_same_projection(&p.village, &p.town, p.case_id);
		e = load(&p.town, p.case_id);
		assert_string_equal(attr_text(e, "leader"), "王书记");
		assert_string_equal(e->status, "closed");
		assert_int_equal(e->n_conflicts, 0);
		xf_entity_free(e);
		pair_close(&p);
	}
}

/* A close and an assignment made apart: the state machine keeps the case
 * closed whichever clock is ahead, and the status conflict shows. */
static void test_illegal_transition_by_merge_is_a_status_conflict(void **state)
{
	struct pair p;
	xf_entity *e;

	pair_setup(&p, *state);
	assert_rc(act_at(&p.village, WALL + 5000, "case.closed", p.case_id, NULL, NULL, "outcome", "办结", NULL), 0);
	assert_rc(act_at(&p.town, WALL + 9000, "case.assigned", p.case_id, NULL, NULL, "leader", "王书记", NULL), 0);
	sync_all(&p.village, &p.town);
	assert_same_projection(&p.village, &p.town, p.case_id);
	e = load(&p.town, p.case_id);
	assert_string_equal(e->status, "closed");
	assert_string_equal(attr_text(e, "leader"), "王书记");
	assert_int_equal(e->n_conflicts, 1);
	assert_string_equal(e->conflicts[0].field, "status");
	xf_entity_free(e);
	/* Recording on it goes by the status shown. */
	assert_rc(act(&p.town, "case.noted", p.case_id, NULL, "text", "x"), XF_ESTATE);
	assert_rc(act(&p.town, "case.reopened", p.case_id, NULL, "reason", "复查"), 0);
	pair_close(&p);
}

/* A work group sent apart to a case closed elsewhere moves no status, but
 * clashes as a transition would: its item applies, and the clash shows as
 * a conflict on status, with the status the work group saw as its rival,
 * which a resolution can bring back. Noted in the township's fold and the
 * village's alike. */
static void test_act_without_status_on_a_closed_case_is_a_status_conflict(void **state)
{
	struct pair p;
	char sent[XF_EVENT_ID_MAX + 1];
	xf_draft d = { .type = "conflict.resolved", .author = "clerk" };
	xf_body *body = NULL;
	xf_entity *e;
	size_t i, seen = 0;

	pair_setup(&p, *state);
	assert_rc(act_at(&p.town, WALL + 1000, "case.assigned", p.case_id, NULL, NULL, "leader", "王书记", NULL), 0);
	sync_all(&p.village, &p.town);
	assert_rc(act_at(&p.village, WALL + 5000, "case.closed", p.case_id, NULL, NULL, "outcome", "办结", NULL), 0);
	assert_rc(act_at(&p.town, WALL + 9000, "case.dispatched", p.case_id, NULL, sent, "text", "工作组三人", NULL), 0);
	sync_all(&p.village, &p.town);
	assert_same_projection(&p.village, &p.town, p.case_id);
	e = load(&p.village, p.case_id);
	assert_string_equal(e->status, "closed");
	assert_int_equal(e->n_items, 1);
	assert_int_equal(e->n_conflicts, 1);
	assert_string_equal(e->conflicts[0].field, "status");
	for (i = 0; i < e->conflicts[0].n; i++)
		if (strcmp(e->conflicts[0].rivals[i].event, sent) == 0) {
			assert_string_equal(e->conflicts[0].rivals[i].str, "assigned");
			seen++;
		}
	assert_int_equal(seen, 1);
	/* Kept, the work group's view reopens the handling on both nodes. */
	assert_rc(xf_entity_resolution(e, sent, &body), 0);
	xf_entity_free(e);
	d.entity = p.case_id;
	assert_rc(xf_body_bytes(body, &d.body, &d.body_len), 0);
	assert_rc(xf_store_append(p.town.store, p.town.key, &d, 1, WALL + 10000, NULL), 0);
	xf_body_free(body);
	sync_all(&p.village, &p.town);
	assert_same_projection(&p.village, &p.town, p.case_id);
	e = load(&p.village, p.case_id);
	assert_string_equal(e->status, "assigned");
	assert_int_equal(e->n_conflicts, 0);
	xf_entity_free(e);
	pair_close(&p);
}

static void test_projection_encoding_round_trips(void **state)
{
	struct pair p;
	xf_entity *e, *back;
	uint8_t *bytes, *again;
	size_t len, len2;
	static const uint8_t garbage[] = { 0x93, 0xa1, 'C', 0x01, 0xc0 };

	pair_setup(&p, *state);
	assert_rc(act(&p.village, "case.assigned", p.case_id, NULL, "leader", "李主任"), 0);
	assert_rc(act(&p.village, "case.noted", p.case_id, NULL, "text", "记录"), 0);
	assert_rc(act(&p.town, "case.assigned", p.case_id, NULL, "leader", "王书记"), 0);
	sync_all(&p.village, &p.town);
	e = load(&p.town, p.case_id);
	assert_int_equal(e->n_conflicts, 1);
	assert_rc(xf_entity_encode(e, &bytes, &len), 0);
	assert_rc(xf_entity_decode(bytes, len, &back), 0);
	assert_rc(xf_entity_encode(back, &again, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(bytes, again, len);
	assert_string_equal(back->conflicts[0].rivals[1].event, e->conflicts[0].rivals[1].event);
	assert_rc(xf_entity_decode(bytes, len - 1, &back), XF_ECORRUPT);
	assert_rc(xf_entity_decode(garbage, sizeof(garbage), &back), XF_ECORRUPT);
	xf_entity_free(back);
	xf_entity_free(e);
	free(bytes);
	free(again);
	pair_close(&p);
}

/* The log in DIR/NAME opened with LMDB itself, past the store, and a
 * write transaction on it. */
static void raw_open(const char *dir, const char *name, MDB_env **env, MDB_txn **txn)
{
	char path[PATH_MAX];

	unit_path(path, sizeof(path), dir, name);
	assert_int_equal(mdb_env_create(env), 0);
	assert_int_equal(mdb_env_set_maxdbs(*env, 16), 0);
	assert_int_equal(mdb_env_open(*env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(*env, NULL, 0, txn), 0);
}

/* A stored projection damaged behind the store's back is found and
 * replaced by rebuild; a second rebuild finds nothing. */
static void test_rebuild_replaces_what_differs(void **state)
{
	struct pair p;
	uint8_t before[XF_HASH_BYTES], after[XF_HASH_BYTES];
	xf_rebuild_report report;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v = { 3, "bad" };
	xf_entity *e;

	pair_setup(&p, *state);
	assert_rc(act(&p.village, "case.assigned", p.case_id, NULL, "leader", "李主任"), 0);
	assert_rc(xf_store_digest(p.village.store, before), 0);
	assert_rc(xf_store_rebuild(p.village.store, &report), 0);
	assert_int_equal(report.differed, 0);
	assert_true(report.entities >= 3);
	node_close(&p.village);

	raw_open(*state, "village", &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, "projections", 0, &dbi), 0);
	k = (MDB_val){ strlen(p.case_id), p.case_id };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	k = (MDB_val){ 9, "C-ghost-1" };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	node_open(&p.village);
	assert_rc(xf_entity_load(p.village.store, p.case_id, &e), XF_ECORRUPT);
	assert_rc(xf_store_rebuild(p.village.store, &report), 0);
	assert_int_equal(report.differed, 2);
	assert_rc(xf_store_digest(p.village.store, after), 0);
	assert_memory_equal(before, after, XF_HASH_BYTES);
	e = load(&p.village, p.case_id);
	assert_string_equal(attr_text(e, "leader"), "李主任");
	xf_entity_free(e);
	assert_rc(xf_entity_load(p.village.store, "C-ghost-1", &e), XF_ENOTFOUND);
	assert_rc(xf_store_rebuild(p.village.store, &report), 0);
	assert_int_equal(report.differed, 0);
	pair_close(&p);
}

/* A log written before projections were kept (schema 1) gains them the
 * first time it is opened, and says so. */
static void test_a_version_1_log_gains_its_projections(void **state)
{
	struct pair p;
	uint8_t one[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi proj, meta;
	MDB_val k = { 6, "schema" }, v = { 8, one };
	xf_entity *e;

	pair_setup(&p, *state);
	node_close(&p.village);
	raw_open(*state, "village", &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, "projections", 0, &proj), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_drop(txn, proj, 0), 0);
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	node_open(&p.village);
	e = load(&p.village, p.case_id);
	assert_string_equal(attr_text(e, "title"), "征地补偿");
	xf_entity_free(e);
	assert_rc(act(&p.village, "case.noted", p.case_id, NULL, "text", "升级后"), 0);
	pair_close(&p);
}

/* ID's value (its first) in table DB of the log in DIR/NAME, read past the
 * store (which must be closed); NULL if it has none. The caller frees it. */
static uint8_t *raw_value(const char *dir, const char *name, const char *db, const char *id, size_t *len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(id), (void *)id }, v;
	uint8_t *copy = NULL;
	int rc;

	raw_open(dir, name, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	rc = mdb_get(txn, dbi, &k, &v);
	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	if (rc == 0) {
		copy = malloc(v.mv_size);
		assert_non_null(copy);
		memcpy(copy, v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return copy;
}

static uint8_t *raw_projection(const char *dir, const char *name, const char *id, size_t *len)
{
	return raw_value(dir, name, "projections", id, len);
}

/* Put VALUE as ID's value in table DB and SCHEMA as the log's, past the
 * store; in the entity index, as ID's only event. */
static void raw_poke(const char *dir, const char *name, const char *db, const char *id, const void *value,
		     size_t len, uint8_t schema)
{
	uint8_t version[8] = { 0, 0, 0, 0, 0, 0, 0, schema };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi, meta;
	MDB_val k = { strlen(id), (void *)id }, v = { len, (void *)value };
	MDB_val sk = { 6, "schema" }, sv = { 8, version };

	raw_open(dir, name, &env, &txn);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	if (strcmp(db, "entities") == 0)
		assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_put(txn, meta, &sk, &sv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void assert_no_row(const char *dir, const char *name, const char *id)
{
	size_t len;
	uint8_t *v = raw_projection(dir, name, id, &len);

	assert_null(v);
}

/* An entity of one event has no row in the projections table: loaded and
 * digested as before from its event; a row an earlier version kept for it
 * (schema 6: its event's key; schema 5: a copy folded) is dropped when the
 * log is opened, a stray one or a conflict flag by a rebuild; an index
 * naming a wrong event is found. Its second event stores the projection. */
static void test_a_lone_entity_has_no_stored_projection(void **state)
{
	struct pair p;
	uint8_t before[XF_HASH_BYTES], after[XF_HASH_BYTES], *full, *ref;
	static const uint8_t schema6[] = { 0, 'v', 'i', 'l', 'l', 'a', 'g', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 2 };
	/* hlc, then the event's key: one the log does not hold, and the
	 * village's first event, its own enrolment, another entity's. */
	static const uint8_t missing[] = { 0, 0, 0, 0, 0, 0, 0, 9, 'v', 'i', 'l', 'l', 'a', 'g', 'e', 0, 0, 0, 0, 0, 0, 0, 3, 0xe7 };
	static const uint8_t other[] = { 0, 0, 0, 0, 0, 0, 0, 9, 'v', 'i', 'l', 'l', 'a', 'g', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	xf_rebuild_report report;
	xf_entity *e;
	size_t len, ref_len;

	pair_setup(&p, *state);
	assert_rc(xf_store_digest(p.village.store, before), 0);
	assert_same_projection(&p.village, &p.town, p.case_id);
	e = load(&p.village, p.case_id);
	assert_int_equal(e->n_events, 1);
	assert_string_equal(e->status, "opened");
	assert_string_equal(attr_text(e, "title"), "征地补偿");
	assert_rc(xf_entity_encode(e, &full, &len), 0);
	xf_entity_free(e);
	node_close(&p.village);
	assert_no_row(p.dir, "village", p.case_id);

	/* Rows of schemas 6 and 5, dropped on opening; the digest is the
	 * same as before. */
	raw_poke(p.dir, "village", "projections", p.case_id, schema6, sizeof(schema6), 6);
	node_open(&p.village);
	node_close(&p.village);
	assert_no_row(p.dir, "village", p.case_id);
	raw_poke(p.dir, "village", "projections", p.case_id, full, len, 5);
	node_open(&p.village);
	assert_rc(xf_store_digest(p.village.store, after), 0);
	assert_memory_equal(before, after, XF_HASH_BYTES);
	node_close(&p.village);
	assert_no_row(p.dir, "village", p.case_id);

	/* A stray row in a log of this version: a rebuild drops it. */
	raw_poke(p.dir, "village", "projections", p.case_id, full, len, XF_SCHEMA_VERSION);
	node_open(&p.village);
	assert_rc(xf_store_rebuild(p.village.store, &report), 0);
	assert_int_equal(report.differed, 1);
	node_close(&p.village);
	assert_no_row(p.dir, "village", p.case_id);

	/* Flagged in conflict, which one event cannot be: a rebuild clears
	 * the flag. */
	raw_poke(p.dir, "village", "conflicted", p.case_id, "", 0, XF_SCHEMA_VERSION);
	node_open(&p.village);
	assert_int_equal(conflicted(&p.village), 1);
	assert_rc(xf_store_rebuild(p.village.store, &report), 0);
	assert_int_equal(report.differed, 1);
	assert_int_equal(conflicted(&p.village), 0);
	node_close(&p.village);

	/* The index naming an event the log does not hold, or another
	 * entity's: refused as damage, then put back. */
	ref = raw_value(p.dir, "village", "entities", p.case_id, &ref_len);
	raw_poke(p.dir, "village", "entities", p.case_id, missing, sizeof(missing), XF_SCHEMA_VERSION);
	node_open(&p.village);
	assert_rc(xf_entity_load(p.village.store, p.case_id, &e), XF_ECORRUPT);
	node_close(&p.village);
	raw_poke(p.dir, "village", "entities", p.case_id, other, sizeof(other), XF_SCHEMA_VERSION);
	node_open(&p.village);
	assert_rc(xf_entity_load(p.village.store, p.case_id, &e), XF_ECORRUPT);
	node_close(&p.village);
	raw_poke(p.dir, "village", "entities", p.case_id, ref, ref_len, XF_SCHEMA_VERSION);
	free(ref);

	node_open(&p.village);
	assert_rc(act(&p.village, "case.assigned", p.case_id, NULL, "leader", "李主任"), 0);
	node_close(&p.village);
	free(full);
	full = raw_projection(p.dir, "village", p.case_id, &len);
	assert_non_null(full);
	assert_int_not_equal(full[0], 0);
	free(full);
	node_open(&p.village);
	e = load(&p.village, p.case_id);
	assert_int_equal(e->n_events, 2);
	assert_string_equal(attr_text(e, "leader"), "李主任");
	xf_entity_free(e);
	assert_rc(xf_store_rebuild(p.village.store, &report), 0);
	assert_int_equal(report.differed, 0);
	pair_close(&p);
}

/* ---- the fold on hand-made events: what no honest node sends ---- */

/* An event view of case "C-v-1" by origin "v" with SEQ, HLC, TYPE, the
 * comma-separated PARENTS and BODY (kept alive by the caller). */
static xf_event hand_event(uint64_t seq, uint64_t hlc, const char *type, const char *parents, xf_body *body)
{
	xf_event ev;
	const char *p = parents;

	memset(&ev, 0, sizeof(ev));
	strcpy(ev.origin, "v");
	strcpy(ev.entity, "C-v-1");
	strcpy(ev.author, "clerk");
	snprintf(ev.type, sizeof(ev.type), "%s", type);
	ev.seq = seq;
	ev.hlc = hlc;
	while (p && *p) {
		size_t n = strcspn(p, ",");

		ev.parents[ev.n_parents++] = (xf_str){ p, n };
		p += n + (p[n] == ',');
	}
	assert_rc(xf_body_bytes(body, &ev.body, &ev.body_len), 0);
	return ev;
}

static xf_body *body_of(const char *key, const char *value)
{
	xf_body *b = NULL;

	assert_rc(xf_body_new(&b), 0);
	if (key)
		assert_rc(xf_body_put_str(b, key, value, 100), 0);
	return b;
}

/* The incremental fold refuses an event the full fold would place or read
 * otherwise: one naming a head twice, one a held event waits for. */
static void test_fold_next_refuses_what_is_not_last(void **state)
{
	xf_body *none = body_of(NULL, NULL), *x = body_of("leader", "甲"), *y = body_of("leader", "乙");
	xf_event evs[4];
	xf_entity *e;

	(void)state;
	evs[0] = hand_event(1, 10, "case.opened", "", none);
	evs[1] = hand_event(2, 20, "case.assigned", "v:1", x);
	evs[2] = hand_event(3, 30, "case.assigned", "v:1", y);
	/* Names v:2 twice: it has not seen v:3. */
	evs[3] = hand_event(4, 40, "case.noted", "v:2,v:2", none);
	assert_rc(xf_entity_fold("C-v-1", evs, 3, &e), 0);
	assert_int_equal(e->n_heads, 2);
	assert_rc(xf_entity_fold_next(e, &evs[3]), XF_ESTATE);
	xf_entity_free(e);

	/* v:1 waits for v:2 (a forged cycle, or v:2 late): v:2 is not last. */
	evs[0] = hand_event(1, 10, "case.opened", "v:2", none);
	evs[1] = hand_event(2, 20, "case.assigned", "v:1", x);
	assert_rc(xf_entity_fold("C-v-1", evs, 1, &e), 0);
	assert_int_equal(e->n_awaited, 1);
	assert_rc(xf_entity_fold_next(e, &evs[1]), XF_ESTATE);
	xf_entity_free(e);
	xf_body_free(none);
	xf_body_free(x);
	xf_body_free(y);
}

/* A body that sets one field twice ("date" maps onto closed_on) is one
 * write, not a conflict of the event with itself. */
static void test_an_event_does_not_conflict_with_itself(void **state)
{
	xf_body *none = body_of(NULL, NULL), *twice = NULL;
	xf_event evs[2];
	xf_entity *e;

	(void)state;
	assert_rc(xf_body_new(&twice), 0);
	assert_rc(xf_body_put_str(twice, "date", "2024-05-02", 10), 0);
	assert_rc(xf_body_put_str(twice, "closed_on", "2024-05-03", 10), 0);
	evs[0] = hand_event(1, 10, "case.opened", "", none);
	evs[1] = hand_event(2, 20, "case.closed", "v:1", twice);
	assert_rc(xf_entity_fold("C-v-1", evs, 2, &e), 0);
	assert_int_equal(e->n_conflicts, 0);
	assert_string_equal(attr_text(e, "closed_on"), "2024-05-03");
	xf_entity_free(e);
	xf_body_free(none);
	xf_body_free(twice);
}

/* A one-event entity is stored without its fold (projstore.c), so it
 * must not be in conflict: whatever its one act, legal or not. */
static void test_a_lone_event_is_never_in_conflict(void **state)
{
	static const char *const types[] = {
		"case.opened", "case.assigned", "case.dispatched", "case.noted", "case.replied", "case.closed",
		"case.reopened", "case.extended", "conflict.resolved", "visit.recorded", "case.invented",
	};
	xf_body *b = NULL;
	xf_event ev;
	xf_entity *e;
	size_t i;

	(void)state;
	assert_rc(xf_body_new(&b), 0);
	assert_rc(xf_body_put_str(b, "date", "2024-05-02", 10), 0);
	assert_rc(xf_body_put_str(b, "closed_on", "2024-05-03", 10), 0);
	assert_rc(xf_body_put_str(b, "status", "closed", 10), 0);
	assert_rc(xf_body_put_str(b, "text", "记录", 10), 0);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		ev = hand_event(1, 10, types[i], i % 2 ? "v:9" : "", b);
		assert_rc(xf_entity_fold("C-v-1", &ev, 1, &e), 0);
		if (e->n_conflicts)
			fail_msg("a lone %s is in conflict", types[i]);
		xf_entity_free(e);
	}
	xf_body_free(b);
}

/* ---- the property test ---- */

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
	return (size_t)(rng_next(s) % n);
}

static uint64_t scenario_seed;
static bool scenario_running;
/* What the scenarios exercised, so a run shows it tested something. */
static struct {
	size_t acts, refused, syncs, resolutions, conflicts_seen, conflicts_left;
} tally;

#define VILLAGES 2
#define CASES_MAX 6

struct world {
	struct node nodes[1 + VILLAGES]; /* the township first */
	int64_t skew[1 + VILLAGES];      /* each node's clock error, ms */
	uint64_t now;
	char cases[CASES_MAX][XF_ENTITY_ID_MAX + 1];
	size_t n_cases;
};

static uint64_t wall_of(const struct world *w, size_t node)
{
	return (uint64_t)((int64_t)w->now + w->skew[node]);
}

static void random_act(struct world *w, uint64_t *rng, size_t node, const char *entity)
{
	static const char *const leaders[] = { "甲", "乙", "丙" };
	static const char *const outcomes[] = { "补偿到位", "不予受理" };
	struct node *n = &w->nodes[node];
	uint64_t at = wall_of(w, node);
	int r;

	switch (rng_below(rng, 6)) {
	case 0: r = act_at(n, at, "case.assigned", entity, NULL, NULL, "leader", leaders[rng_below(rng, 3)], NULL); break;
	case 1: r = act_at(n, at, "case.noted", entity, NULL, NULL, "text", n->id, NULL); break;
	case 2: r = act_at(n, at, "case.dispatched", entity, NULL, NULL, "text", "工作组", NULL); break;
	case 3: r = act_at(n, at, "case.replied", entity, NULL, NULL, "reply", "答复", "due", "2024-07-01", NULL); break;
	case 4: r = act_at(n, at, "case.closed", entity, NULL, NULL, "outcome", outcomes[rng_below(rng, 2)], NULL); break;
	default: r = act_at(n, at, "case.reopened", entity, NULL, NULL, "reason", "复查", NULL); break;
	}
	if (r != 0 && r != XF_ESTATE)
		fail_msg("%s on %s: %s", n->id, entity, xf_strerror(r));
	tally.refused += r == XF_ESTATE;
}

/* Settle one conflict of ENTITY on NODE, keeping a random rival. */
static void random_resolution(struct world *w, uint64_t *rng, size_t node, const xf_entity *e)
{
	const xf_conflict *c = &e->conflicts[rng_below(rng, e->n_conflicts)];
	xf_draft d = { .type = "conflict.resolved", .entity = e->id, .author = "clerk" };
	xf_body *body = NULL;

	assert_rc(xf_entity_resolution(e, c->rivals[rng_below(rng, c->n)].event, &body), 0);
	assert_rc(xf_body_bytes(body, &d.body, &d.body_len), 0);
	assert_rc(xf_store_append(w->nodes[node].store, w->nodes[node].key, &d, 1, wall_of(w, node), NULL), 0);
	xf_body_free(body);
}

static void sync_village(struct world *w, size_t v)
{
	sync_all_at(&w->nodes[v], wall_of(w, v), &w->nodes[0], wall_of(w, 0));
}

struct collected {
	uint8_t **bytes;
	size_t *lens, n;
};

static int collect_cb(const xf_event *ev, void *ctx)
{
	struct collected *c = ctx;

	c->bytes = realloc(c->bytes, (c->n + 1) * sizeof(*c->bytes));
	c->lens = realloc(c->lens, (c->n + 1) * sizeof(*c->lens));
	assert_non_null(c->bytes);
	assert_non_null(c->lens);
	c->bytes[c->n] = malloc(ev->len);
	assert_non_null(c->bytes[c->n]);
	memcpy(c->bytes[c->n], ev->bytes, ev->len);
	c->lens[c->n++] = ev->len;
	return 0;
}

/* Folding the events of ID on N in shuffled orders gives the bytes N
 * stores for it. */
static void assert_order_free(struct node *n, const char *id, uint64_t *rng)
{
	struct collected c = { 0 };
	xf_event *evs;
	xf_entity *e;
	uint8_t *want, *got;
	size_t want_len, got_len, i, j, round;

	assert_rc(xf_store_entity_scan(n->store, id, collect_cb, &c), 0);
	evs = calloc(c.n, sizeof(*evs));
	assert_non_null(evs);
	want = stored(n, id, &want_len);
	for (round = 0; round < 3; round++) {
		for (i = c.n; i > 1; i--) {
			j = rng_below(rng, i);
			uint8_t *tb = c.bytes[i - 1];
			size_t tl = c.lens[i - 1];

			c.bytes[i - 1] = c.bytes[j];
			c.lens[i - 1] = c.lens[j];
			c.bytes[j] = tb;
			c.lens[j] = tl;
		}
		for (i = 0; i < c.n; i++)
			assert_rc(xf_event_decode(c.bytes[i], c.lens[i], &evs[i]), 0);
		assert_rc(xf_entity_fold(id, evs, c.n, &e), 0);
		assert_rc(xf_entity_encode(e, &got, &got_len), 0);
		if (got_len != want_len || memcmp(got, want, got_len) != 0)
			fail_msg("%s folds differently in another order", id);
		xf_entity_free(e);
		free(got);
	}
	for (i = 0; i < c.n; i++)
		free(c.bytes[i]);
	free(c.bytes);
	free(c.lens);
	free(evs);
	free(want);
}

static void assert_rebuild_changes_nothing(struct node *n)
{
	uint8_t before[XF_HASH_BYTES], after[XF_HASH_BYTES];
	xf_rebuild_report report;

	assert_rc(xf_store_digest(n->store, before), 0);
	assert_rc(xf_store_rebuild(n->store, &report), 0);
	if (report.differed)
		fail_msg("rebuild on %s replaced %zu projections", n->id, report.differed);
	assert_rc(xf_store_digest(n->store, after), 0);
	assert_memory_equal(before, after, XF_HASH_BYTES);
}


/* Each village and the township show its cases byte for byte alike; any
 * order of a case's events folds to the same bytes; rebuild changes
 * nothing anywhere. */
static void check_converged(struct world *w, uint64_t *rng)
{
	xf_entity *e;
	size_t i, v;

	for (i = 0; i < w->n_cases; i++) {
		char owner[XF_NODE_ID_MAX + 1];

		/* "C-<owner>-<seq>": the village that opened it holds all its
		 * events, as does the township. */
		snprintf(owner, sizeof(owner), "%.*s", (int)(strrchr(w->cases[i], '-') - w->cases[i] - 2),
			 w->cases[i] + 2);
		for (v = 1; v <= VILLAGES; v++)
			if (strcmp(w->nodes[v].id, owner) == 0)
				assert_same_projection(&w->nodes[v], &w->nodes[0], w->cases[i]);
		assert_order_free(&w->nodes[0], w->cases[i], rng);
		e = load(&w->nodes[0], w->cases[i]);
		tally.conflicts_left += e->n_conflicts;
		xf_entity_free(e);
	}
	for (i = 0; i <= VILLAGES; i++)
		assert_rebuild_changes_nothing(&w->nodes[i]);
}

static void scenario(const char *parent, uint64_t seed)
{
	static const char *const names[] = { "town", "v1", "v2" };
	char dir[PATH_MAX];
	uint64_t rng = seed;
	struct world w = { .now = WALL };
	size_t i, v, step, steps;
	xf_entity *e;

	scenario_seed = seed;
	scenario_running = true;
	snprintf(dir, sizeof(dir), "%s/s%llu", parent, (unsigned long long)seed);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (i = 0; i <= VILLAGES; i++) {
		node_create(&w.nodes[i], dir, names[i], i ? "village" : "township");
		/* Clocks up to three days off either way. */
		w.skew[i] = (int64_t)rng_below(&rng, 6 * DAY_MS) - (int64_t)(3 * DAY_MS);
	}
	for (v = 1; v <= VILLAGES; v++)
		link_nodes(&w.nodes[0], &w.nodes[v], "child");
	steps = 10 + rng_below(&rng, 30);
	for (step = 0; step < steps; step++) {
		/* The township, which acts on every village's cases, half the time. */
		size_t node = rng_below(&rng, 2) ? 0 : 1 + rng_below(&rng, VILLAGES), k = rng_below(&rng, 10);
		const char *entity = w.n_cases ? w.cases[rng_below(&rng, w.n_cases)] : NULL;

		w.now += rng_below(&rng, 60000);
		if (k < 2 && node > 0 && w.n_cases < CASES_MAX) {
			assert_rc(act_at(&w.nodes[node], wall_of(&w, node), "case.opened", NULL, w.cases[w.n_cases], NULL,
					 "title", "案件", NULL), 0);
			w.n_cases++;
		} else if (k < 9 && entity) {
			/* A village acts on its own cases; the township on any it holds. */
			if (xf_entity_load(w.nodes[node].store, entity, &e) < 0) {
				node = 0;
				if (xf_entity_load(w.nodes[0].store, entity, &e) < 0)
					continue;
			}
			tally.conflicts_seen += e->n_conflicts;
			if (e->n_conflicts && rng_below(&rng, 2)) {
				random_resolution(&w, &rng, node, e);
				tally.resolutions++;
			} else {
				random_act(&w, &rng, node, entity);
				tally.acts++;
			}
			xf_entity_free(e);
		} else if (node > 0) {
			sync_village(&w, node);
			tally.syncs++;
		}
	}
	/* The links come back: each village syncs twice, so that what one
	 * village's sync brought the township reaches the other. */
	for (i = 0; i < 2; i++)
		for (v = 1; v <= VILLAGES; v++)
			sync_village(&w, v);
	check_converged(&w, &rng);
	/* The township settles every conflict left; once synced, none is
	 * left anywhere. */
	for (i = 0; i < w.n_cases; i++) {
		size_t tries = 0;

		while ((e = load(&w.nodes[0], w.cases[i]))->n_conflicts) {
			/* Each resolution settles one field at least. */
			if (++tries > 8)
				fail_msg("%s: resolutions do not settle its conflicts", w.cases[i]);
			random_resolution(&w, &rng, 0, e);
			tally.resolutions++;
			xf_entity_free(e);
		}
		xf_entity_free(e);
	}
	for (v = 1; v <= VILLAGES; v++)
		sync_village(&w, v);
	for (i = 0; i <= VILLAGES; i++)
		if (conflicted(&w.nodes[i]) != 0)
			fail_msg("%s still lists conflicts after every resolution synced", w.nodes[i].id);
	check_converged(&w, &rng);
	for (i = 0; i <= VILLAGES; i++)
		node_close(&w.nodes[i]);
	scenario_running = false;
}

static int report_seed(void **state)
{
	if (scenario_running)
		fprintf(stderr, "merge property failed at seed %llu; replay: XF_MERGE_SEED=%llu %s\n",
			(unsigned long long)scenario_seed, (unsigned long long)scenario_seed, "build/asan/tests/test_merge");
	return unit_tmpdir_teardown(state);
}

static void test_random_scenarios_converge(void **state)
{
	const char *one = getenv("XF_MERGE_SEED"), *many = getenv("XF_MERGE_SCENARIOS");
	uint64_t first = one ? strtoull(one, NULL, 10) : 1;
	size_t n = one ? 1 : many ? strtoul(many, NULL, 10) : 1000, i;

	/* Thousands of stores: on tmpfs when there is one, fsync costs nothing. */
	char dir[] = "/dev/shm/xf-merge-XXXXXX";
	const char *parent = mkdtemp(dir) ? dir : *state;

	for (i = 0; i < n; i++)
		scenario(parent, first + i);
	print_message("%zu scenarios: %zu acts (%zu refused by state), %zu syncs, %zu conflicts met, "
		      "%zu resolved, %zu standing when the links came back\n",
		      n, tally.acts, tally.refused, tally.syncs, tally.conflicts_seen, tally.resolutions,
		      tally.conflicts_left);
	if (parent != *state)
		nftw(parent, unit_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMPDIR_TEST(test_concurrent_writes_of_one_field_conflict_until_resolved),
		TMPDIR_TEST(test_concurrent_writes_of_different_fields_both_apply),
		TMPDIR_TEST(test_wrong_clocks_still_merge_in_causal_order),
		TMPDIR_TEST(test_illegal_transition_by_merge_is_a_status_conflict),
		TMPDIR_TEST(test_act_without_status_on_a_closed_case_is_a_status_conflict),
		TMPDIR_TEST(test_projection_encoding_round_trips),
		TMPDIR_TEST(test_rebuild_replaces_what_differs),
		TMPDIR_TEST(test_a_version_1_log_gains_its_projections),
		TMPDIR_TEST(test_a_lone_entity_has_no_stored_projection),
		cmocka_unit_test(test_fold_next_refuses_what_is_not_last),
		cmocka_unit_test(test_an_event_does_not_conflict_with_itself),
		cmocka_unit_test(test_a_lone_event_is_never_in_conflict),
		cmocka_unit_test_setup_teardown(test_random_scenarios_converge, unit_tmpdir_setup, report_seed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
