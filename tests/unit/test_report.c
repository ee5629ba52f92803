/* The township's figures (core/include/xf/report.h) on a fixture whose
 * every expected number is worked out by hand below: two villages and a
 * township, a year-over-year change, a reopened case, a case in conflict,
 * and the statutory deadlines. */
#include <stdarg.h>

#include "unit.h"
#include "nodes.h"
#include "xf/report.h"
#include "xf/text.h"

/* Record TYPE about ENTITY (NULL: a new entity of KIND, its id into
 * CREATED). Fields follow as "key", "value" pairs ended by NULL; a key
 * starting with '#' is a whole number, with '?' a yes/no ("1"/"0"). */
static void record(struct node *n, const char *type, const char *entity, char kind,
		   char created[XF_ENTITY_ID_MAX + 1], ...)
{
	xf_draft d = { .type = type, .entity = entity, .new_kind = entity ? 0 : kind, .author = "clerk" };
	xf_appended done;
	xf_body *body = NULL;
	const char *key, *value;
	va_list ap;

	assert_rc(xf_body_new(&body), 0);
	va_start(ap, created);
	while ((key = va_arg(ap, const char *))) {
		value = va_arg(ap, const char *);
		if (key[0] == '#')
			assert_rc(xf_body_put_int(body, key + 1, atoll(value)), 0);
		else if (key[0] == '?')
			assert_rc(xf_body_put_bool(body, key + 1, value[0] == '1'), 0);
		else if (strcmp(key, "from") == 0)
			assert_rc(xf_body_put_strv(body, key, &value, 1, XF_ENTITY_ID_MAX), 0);
		else
			assert_rc(xf_body_put_str(body, key, value, 4000), 0);
	}
	va_end(ap);
	assert_rc(xf_body_bytes(body, &d.body, &d.body_len), 0);
	assert_rc(xf_store_append(n->store, n->key, &d, 1, WALL, &done), 0);
	xf_body_free(body);
	if (created)
		strcpy(created, done.entity);
}

static void visit(struct node *n, char id[XF_ENTITY_ID_MAX + 1], const char *date, const char *people,
		  const char *category, const char *escalated)
{
	record(n, "visit.recorded", NULL, 'V', id, "date", date, "#people", people, "category", category, "summary",
	       "来访", "?escalated", escalated, NULL);
}

static void act(struct node *n, const char *type, const char *entity, const char *date, const char *key,
		const char *value)
{
	record(n, type, entity, 0, NULL, "date", date, key, value, NULL);
}

static int32_t day(const char *date)
{
	int32_t d;

	assert_rc(xf_date_parse(date, &d), 0);
	return d;
}

struct fixture {
	struct node town, v1, v2;
	char c1[XF_ENTITY_ID_MAX + 1], c2[XF_ENTITY_ID_MAX + 1], c4[XF_ENTITY_ID_MAX + 1];
	char c5[XF_ENTITY_ID_MAX + 1];
};

/* Village 1, in 2026: visit A (6 people, 征地拆迁), visit B (2, 劳资纠纷,
 * escalated), letter E (征地拆迁); case C1 from A opened, assigned, a
 * work group sent, closed, then reopened; case C2 from B opened and
 * closed; risk R1 reported and resolved. Visit D (9 people) falls after
 * the period; case C5 from it is opened and waits for acceptance. In 2025:
 * visit C (3 people, 征地拆迁), case C3 from it opened and closed, risk R2
 * reported. Village 2, in 2026: visit F (12 people, 征地拆迁, escalated);
 * case C4 from it, closed by the village while the township, apart,
 * assigns it (a status conflict); visit H (5 people: collective, just);
 * in 2025: visit G (1 person, 劳资纠纷). */
static void fixture_setup(struct fixture *f, const char *dir)
{
	char a[XF_ENTITY_ID_MAX + 1], b[XF_ENTITY_ID_MAX + 1], c[XF_ENTITY_ID_MAX + 1], d[XF_ENTITY_ID_MAX + 1];
	char fv[XF_ENTITY_ID_MAX + 1], g[XF_ENTITY_ID_MAX + 1], id[XF_ENTITY_ID_MAX + 1];

	node_create(&f->town, dir, "370102001", "township");
	node_create(&f->v1, dir, "370102001001", "village");
	node_create(&f->v2, dir, "370102001002", "village");
	link_nodes(&f->town, &f->v1, "child");
	link_nodes(&f->town, &f->v2, "child");

	visit(&f->v1, a, "2026-01-10", "6", "征地拆迁", "0");
	visit(&f->v1, b, "2026-03-05", "2", "劳资纠纷", "1");
	visit(&f->v1, c, "2025-02-01", "3", "征地拆迁", "0");
	visit(&f->v1, d, "2026-07-02", "9", "征地拆迁", "0");
	record(&f->v1, "letter.recorded", NULL, 'L', id, "date", "2026-02-01", "category", "征地拆迁", "summary",
	       "来信", NULL);
	record(&f->v1, "case.opened", NULL, 'C', f->c1, "date", "2026-01-12", "title", "补偿", "from", a, NULL);
	act(&f->v1, "case.assigned", f->c1, "2026-01-20", "leader", "王书记");
	act(&f->v1, "case.dispatched", f->c1, "2026-01-21", "text", "张三、李四");
	act(&f->v1, "case.dispatched", f->c1, "2026-07-05", "text", "王五");
	act(&f->v1, "case.closed", f->c1, "2026-03-01", "outcome", "已补偿");
	act(&f->v1, "case.reopened", f->c1, "2026-04-01", "reason", "反悔");
	record(&f->v1, "case.opened", NULL, 'C', f->c2, "date", "2026-03-06", "title", "欠薪", "from", b, NULL);
	act(&f->v1, "case.closed", f->c2, "2026-03-20", "outcome", "已支付");
	record(&f->v1, "case.opened", NULL, 'C', id, "date", "2025-02-02", "title", "旧案", "from", c, NULL);
	act(&f->v1, "case.closed", id, "2025-03-01", "outcome", "已办结");
	record(&f->v1, "case.opened", NULL, 'C', f->c5, "date", "2026-07-03", "title", "新案", "from", d, NULL);
	record(&f->v1, "risk.reported", NULL, 'R', id, "date", "2026-02-10", "level", "major", "summary", "隐患", NULL);
	act(&f->v1, "risk.resolved", id, "2026-05-01", "outcome", "已化解");
	record(&f->v1, "risk.reported", NULL, 'R', id, "date", "2025-05-01", "level", "general", "summary", "隐患",
	       NULL);

	visit(&f->v2, fv, "2026-04-01", "12", "征地拆迁", "1");
	visit(&f->v2, g, "2025-04-01", "1", "劳资纠纷", "0");
	visit(&f->v2, id, "2026-05-05", "5", "劳资纠纷", "0");
	record(&f->v2, "case.opened", NULL, 'C', f->c4, "date", "2026-04-02", "title", "征地", "from", fv, NULL);
	sync_all(&f->v1, &f->town);
	sync_all(&f->v2, &f->town);
	act(&f->v2, "case.closed", f->c4, "2026-04-10", "outcome", "已协商");
	act(&f->town, "case.assigned", f->c4, "2026-04-09", "leader", "李镇长");
	sync_all(&f->v2, &f->town);
	sync_all(&f->v2, &f->town);
}

static void fixture_close(struct fixture *f)
{
	node_close(&f->town);
	node_close(&f->v1);
	node_close(&f->v2);
}

static xf_report *make(struct node *n, const char *village)
{
	xf_report *r = NULL;

	assert_rc(xf_report_make(n->store, day("2026-01-01"), day("2026-06-30"), village, &r), 0);
	return r;
}

/* xf_report_make compares FROM..TO with BEFORE_FROM..BEFORE_TO. */
static void assert_before(xf_store *s, const char *from, const char *to, const char *before_from,
			  const char *before_to)
{
	xf_report *r;

	assert_rc(xf_report_make(s, day(from), day(to), NULL, &r), 0);
	assert_int_equal(r->before_from, day(before_from));
	assert_int_equal(r->before_to, day(before_to));
	xf_report_free(r);
}

/* Expected counts, in the order of xf_count. */
static void assert_counts(const xf_counts *got, const int64_t *want, const char *what)
{
	size_t i;

	for (i = 0; i < XF_COUNT_N; i++)
		if (got->n[i] != want[i])
			fail_msg("%s: %s is %lld, expected %lld", what, xf_count_name((xf_count)i),
				 (long long)got->n[i], (long long)want[i]);
}

static const xf_report_row *row(const xf_report_row *rows, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].key, key) == 0)
			return &rows[i];
	fail_msg("no row '%s'", key);
	return NULL;
}

static void test_figures_worked_by_hand(void **state)
{
	/*                              visits people coll. esc. letters opened closed groups risks resolved */
	static const int64_t now[] = { 4, 25, 3, 2, 1, 3, 2, 1, 1, 1 };
	static const int64_t before[] = { 2, 4, 0, 0, 0, 1, 1, 0, 1, 0 };
	static const int64_t v1_now[] = { 2, 8, 1, 1, 1, 2, 1, 1, 1, 1 };
	static const int64_t v2_now[] = { 2, 17, 2, 1, 0, 1, 1, 0, 0, 0 };
	static const int64_t land_now[] = { 2, 18, 2, 1, 1, 2, 1, 1, 0, 0 };
	static const int64_t land_before[] = { 1, 3, 0, 0, 0, 1, 1, 0, 0, 0 };
	static const int64_t wages_now[] = { 2, 7, 1, 1, 0, 1, 1, 0, 0, 0 };
	static const int64_t none_now[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1 };
	struct fixture f;
	xf_report *r;
	xf_entity *c4 = NULL;
	int64_t tenths;

	fixture_setup(&f, *state);
	r = make(&f.town, NULL);
	assert_int_equal(r->before_from, day("2025-01-01"));
	assert_int_equal(r->before_to, day("2025-06-30"));
	assert_counts(&r->now, now, "totals");
	assert_counts(&r->before, before, "previous");
	assert_int_equal(r->n_villages, 2);
	assert_counts(&row(r->villages, r->n_villages, "370102001001")->now, v1_now, "village 1");
	assert_counts(&row(r->villages, r->n_villages, "370102001002")->now, v2_now, "village 2");
	assert_int_equal(r->n_categories, 3);
	assert_counts(&row(r->categories, r->n_categories, "征地拆迁")->now, land_now, "征地拆迁");
	assert_counts(&row(r->categories, r->n_categories, "征地拆迁")->before, land_before, "征地拆迁 before");
	assert_counts(&row(r->categories, r->n_categories, "劳资纠纷")->now, wages_now, "劳资纠纷");
	assert_counts(&row(r->categories, r->n_categories, "")->now, none_now, "no category");

	/* Closure rate 2 of 3 = 66.7%, a year earlier 1 of 1 = 100.0%. */
	assert_true(xf_percent(r->now.n[XF_COUNT_CASES_CLOSED], r->now.n[XF_COUNT_CASES_OPENED], &tenths));
	assert_int_equal(tenths, 667);
	/* 同比: visits 4 against 2 = +100.0%, people 25 against 4 = +525.0%. */
	assert_true(xf_percent(r->now.n[XF_COUNT_VISITS] - r->before.n[XF_COUNT_VISITS], r->before.n[XF_COUNT_VISITS],
			       &tenths));
	assert_int_equal(tenths, 1000);
	assert_true(xf_percent(r->now.n[XF_COUNT_PEOPLE] - r->before.n[XF_COUNT_PEOPLE], r->before.n[XF_COUNT_PEOPLE],
			       &tenths));
	assert_int_equal(tenths, 5250);
	assert_false(xf_percent(2, 0, &tenths));
	xf_report_free(r);

	/* February 2025 compares with the whole of February 2024, and back. */
	assert_before(f.town.store, "2025-02-01", "2025-02-28", "2024-02-01", "2024-02-29");
	assert_before(f.town.store, "2024-02-01", "2024-02-29", "2023-02-01", "2023-02-28");
	assert_before(f.town.store, "2024-01-01", "2024-12-31", "2023-01-01", "2023-12-31");
	/* Anything but whole months: as many days from the same date. */
	assert_before(f.town.store, "2025-02-28", "2025-02-28", "2024-02-28", "2024-02-28");
	assert_before(f.town.store, "2025-02-22", "2025-02-28", "2024-02-22", "2024-02-28");
	assert_before(f.town.store, "2024-02-29", "2024-03-06", "2023-02-28", "2023-03-06");
	assert_before(f.town.store, "2025-01-15", "2025-02-28", "2024-01-15", "2024-02-28");

	/* C4 stands closed and in conflict: it counts as closed. */
	assert_rc(xf_entity_load(f.town.store, f.c4, &c4), 0);
	assert_string_equal(c4->status, "closed");
	assert_int_equal(c4->n_conflicts, 1);
	xf_entity_free(c4);
	fixture_close(&f);
}

/* Counts come from projections: a village, holding its own records and
 * the township's acts on them, gives the township's figures for it. */
static void test_every_node_gives_the_same_figures(void **state)
{
	struct fixture f;
	xf_report *on_town, *on_village;
	struct node *villages[] = { &f.v1, &f.v2 };
	size_t v, i;

	fixture_setup(&f, *state);
	for (v = 0; v < 2; v++) {
		on_town = make(&f.town, villages[v]->id);
		on_village = make(villages[v], NULL);
		assert_memory_equal(&on_town->now, &on_village->now, sizeof(xf_counts));
		assert_memory_equal(&on_town->before, &on_village->before, sizeof(xf_counts));
		assert_int_equal(on_town->n_villages, 1);
		assert_string_equal(on_town->villages[0].key, villages[v]->id);
		assert_int_equal(on_town->n_categories, on_village->n_categories);
		for (i = 0; i < on_town->n_categories; i++) {
			assert_string_equal(on_town->categories[i].key, on_village->categories[i].key);
			assert_memory_equal(&on_town->categories[i].now, &on_village->categories[i].now, sizeof(xf_counts));
			assert_memory_equal(&on_town->categories[i].before, &on_village->categories[i].before,
					    sizeof(xf_counts));
		}
		xf_report_free(on_town);
		xf_report_free(on_village);
	}
	fixture_close(&f);
}

struct deadlines {
	const char *id;
	xf_deadline d;
	bool found;
};

static int find_deadline(const xf_entity *e, const xf_record_meta *m, void *ctx)
{
	struct deadlines *want = ctx;

	if (strcmp(e->id, want->id) == 0)
		want->found = xf_case_deadline(e, m, &want->d);
	return 0;
}

static xf_deadline deadline_of(struct node *n, const char *id)
{
	struct deadlines dl = { .id = id };

	assert_rc(xf_store_projections(n->store, 'C', NULL, find_deadline, &dl), 0);
	assert_true(dl.found);
	return dl.d;
}

static void test_statutory_deadlines(void **state)
{
	struct fixture f;
	struct deadlines closed = { 0 };
	xf_entity *c2 = NULL;
	xf_deadline d;

	fixture_setup(&f, *state);
	/* C5: visit 2026-07-02, not yet accepted: due 15 days on. */
	d = deadline_of(&f.v1, f.c5);
	assert_false(d.accepted);
	assert_int_equal(d.start, day("2026-07-02"));
	assert_int_equal(d.due, day("2026-07-17"));
	/* C1 was accepted on 2026-01-20, then closed and reopened on
	 * 2026-04-01: 60 days from the reopening, 90 once extended. */
	d = deadline_of(&f.v1, f.c1);
	assert_true(d.accepted);
	assert_false(d.extended);
	assert_int_equal(d.due, day("2026-05-31"));
	act(&f.v1, "case.extended", f.c1, "2026-05-20", "extension", "情况复杂");
	d = deadline_of(&f.v1, f.c1);
	assert_true(d.extended);
	assert_int_equal(d.due, day("2026-06-30"));
	/* Accepted by assignment: C5's clock moves to 60 days from then. */
	act(&f.v1, "case.assigned", f.c5, "2026-07-10", "leader", "赵主任");
	d = deadline_of(&f.v1, f.c5);
	assert_true(d.accepted);
	assert_int_equal(d.start, day("2026-07-10"));
	assert_int_equal(d.due, day("2026-09-08"));
	/* An extension was for the handling it was granted in: C1, closed
	 * and reopened again, has 60 days from the new reopening. */
	act(&f.v1, "case.closed", f.c1, "2026-06-01", "outcome", "再次办结");
	act(&f.v1, "case.reopened", f.c1, "2026-06-10", "reason", "再次反悔");
	d = deadline_of(&f.v1, f.c1);
	assert_false(d.extended);
	assert_int_equal(d.start, day("2026-06-10"));
	assert_int_equal(d.due, day("2026-08-09"));
	/* However the days compare: extended, closed and reopened on one
	 * day, the new handling is not extended yet, and once it is, 90 days
	 * from that reopening. */
	act(&f.v1, "case.extended", f.c1, "2026-06-20", "extension", "情况复杂");
	act(&f.v1, "case.closed", f.c1, "2026-06-20", "outcome", "三次办结");
	act(&f.v1, "case.reopened", f.c1, "2026-06-20", "reason", "三次反悔");
	d = deadline_of(&f.v1, f.c1);
	assert_false(d.extended);
	assert_int_equal(d.due, day("2026-08-19"));
	act(&f.v1, "case.extended", f.c1, "2026-06-20", "extension", "仍然复杂");
	d = deadline_of(&f.v1, f.c1);
	assert_true(d.extended);
	assert_int_equal(d.due, day("2026-09-18"));
	/* C2, closed before anyone was assigned (a refusal), was decided on
	 * that day: its acceptance clock stopped there. */
	assert_rc(xf_entity_load(f.v1.store, f.c2, &c2), 0);
	assert_string_equal(xf_entity_attr(c2, "accepted_on")->str, "2026-03-20");
	xf_entity_free(c2);
	/* A closed case has none. */
	closed.id = f.c2;
	assert_rc(xf_store_projections(f.v1.store, 'C', NULL, find_deadline, &closed), 0);
	assert_false(closed.found);
	fixture_close(&f);
}

static void test_percent_and_year_earlier(void **state)
{
	int64_t t;

	(void)state;
	assert_true(xf_percent(1, 3, &t));
	assert_int_equal(t, 333);
	assert_true(xf_percent(1, 16, &t)); /* 6.25% rounds away from zero */
	assert_int_equal(t, 63);
	assert_true(xf_percent(-1, 16, &t));
	assert_int_equal(t, -63);
	assert_true(xf_percent(-5, 5, &t));
	assert_int_equal(t, -1000);
	assert_int_equal(xf_year_earlier(day("2024-02-29")), day("2023-02-28"));
	assert_int_equal(xf_year_earlier(day("2026-03-01")), day("2025-03-01"));
}

/* The township extends a case on 06-05 but records it a day later on its
 * clock, while the village, not having heard of it, closes and reopens
 * the case: merged after the reopening, that extension was the ended
 * handling's, and the new one has its 60 days. */
static void test_an_extension_merged_after_a_reopening_is_the_old_handlings(void **state)
{
	struct fixture f;
	char visit_id[XF_ENTITY_ID_MAX + 1], case_id[XF_ENTITY_ID_MAX + 1];
	xf_draft dr = { .type = "case.extended", .author = "clerk" };
	xf_appended done;
	xf_body *body = NULL;
	xf_deadline d;

	fixture_setup(&f, *state);
	visit(&f.v1, visit_id, "2026-05-01", "2", "劳资纠纷", "0");
	record(&f.v1, "case.opened", NULL, 'C', case_id, "date", "2026-05-02", "title", "工资", "from", visit_id, NULL);
	act(&f.v1, "case.assigned", case_id, "2026-05-03", "leader", "王");
	sync_all(&f.v1, &f.town);
	assert_rc(xf_body_new(&body), 0);
	assert_rc(xf_body_put_str(body, "date", "2026-06-05", 4000), 0);
	assert_rc(xf_body_put_str(body, "extension", "复杂", 4000), 0);
	assert_rc(xf_body_bytes(body, &dr.body, &dr.body_len), 0);
	dr.entity = case_id;
	assert_rc(xf_store_append(f.town.store, f.town.key, &dr, 1, WALL + 86400000ull, &done), 0);
	xf_body_free(body);
	act(&f.v1, "case.closed", case_id, "2026-06-08", "outcome", "办结");
	act(&f.v1, "case.reopened", case_id, "2026-06-10", "reason", "反悔");
	sync_all(&f.v1, &f.town);
	sync_all(&f.v1, &f.town);
	d = deadline_of(&f.v1, case_id);
	assert_false(d.extended);
	assert_int_equal(d.due, day("2026-08-09"));
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMPDIR_TEST(test_figures_worked_by_hand),
		TMPDIR_TEST(test_every_node_gives_the_same_figures),
		TMPDIR_TEST(test_statutory_deadlines),
		TMPDIR_TEST(test_an_extension_merged_after_a_reopening_is_the_old_handlings),
		cmocka_unit_test(test_percent_and_year_earlier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
