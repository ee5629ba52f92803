/* The stored form of a projection: one msgpack array, written in a fixed
 * order from the projection alone, so that equal projections are equal
 * bytes and a digest over them compares nodes.
 *
 *   [id, kind, status, origin, events, hlc,
 *    [[name, event, value]...],                 attributes
 *    [[list, text, date, author, event]...],    items
 *    [[field, [[name, event, value]...]]...],   conflicts and their rivals
 *    [event...],                                heads
 *    [event...]]                                parents named but not held
 *
 * A value is nil (cleared), a boolean, an integer, a string or an array of
 * strings. */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xf/error.h"
#include "xf/project.h"

static int pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

static int pack_attr(msgpack_packer *pk, const xf_attr *a)
{
	int r = msgpack_pack_array(pk, 3) | pack_str(pk, a->name) | pack_str(pk, a->event);
	size_t i;

	switch (a->type) {
	case XF_VALUE_STR: return r | pack_str(pk, a->str);
	case XF_VALUE_INT: return r | msgpack_pack_int64(pk, a->i);
	case XF_VALUE_BOOL: return r | (a->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
	case XF_VALUE_ARRAY:
		r |= msgpack_pack_array(pk, a->n);
		for (i = 0; i < a->n; i++)
			r |= pack_str(pk, a->strv[i]);
		return r;
	default: return r | msgpack_pack_nil(pk);
	}
}

int xf_entity_encode(const xf_entity *e, uint8_t **out, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t i, j;
	int r;

	if (!e || !out || !len)
		return -EINVAL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	r = msgpack_pack_array(&pk, 11) | pack_str(&pk, e->id) | msgpack_pack_int(&pk, e->kind) |
	    pack_str(&pk, e->status) | pack_str(&pk, e->origin) | msgpack_pack_uint64(&pk, e->n_events) |
	    msgpack_pack_uint64(&pk, e->hlc);
	r |= msgpack_pack_array(&pk, e->n_attrs);
	for (i = 0; i < e->n_attrs; i++)
		r |= pack_attr(&pk, &e->attrs[i]);
	r |= msgpack_pack_array(&pk, e->n_items);
	for (i = 0; i < e->n_items; i++) {
		const xf_item *it = &e->items[i];

		r |= msgpack_pack_array(&pk, 5) | pack_str(&pk, it->list) | pack_str(&pk, it->text) |
		     pack_str(&pk, it->date) | pack_str(&pk, it->author) | pack_str(&pk, it->event);
	}
	r |= msgpack_pack_array(&pk, e->n_conflicts);
	for (i = 0; i < e->n_conflicts; i++) {
		r |= msgpack_pack_array(&pk, 2) | pack_str(&pk, e->conflicts[i].field) |
		     msgpack_pack_array(&pk, e->conflicts[i].n);
		for (j = 0; j < e->conflicts[i].n; j++)
			r |= pack_attr(&pk, &e->conflicts[i].rivals[j]);
	}
	r |= msgpack_pack_array(&pk, e->n_heads);
	for (i = 0; i < e->n_heads; i++)
		r |= pack_str(&pk, e->heads[i]);
	r |= msgpack_pack_array(&pk, e->n_awaited);
	for (i = 0; i < e->n_awaited; i++)
		r |= pack_str(&pk, e->awaited[i]);
	if (r != 0) {
		msgpack_sbuffer_destroy(&sb);
		return -ENOMEM;
	}
	*out = (uint8_t *)sb.data;
	*len = sb.size;
	return 0;
}

/* Decoding: every helper returns false on anything but what encode wrote. */

static const msgpack_object *array_of(const msgpack_object *o, size_t n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || (n && o->via.array.size != n))
		return NULL;
	return o->via.array.ptr;
}

static bool copy_str(const msgpack_object *o, char *buf, size_t size)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
		return false;
	/* msgpack-c may give an empty string a NULL pointer. */
	if (o->via.str.size)
		memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return true;
}

static char *dup_str(const msgpack_object *o)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return o->via.str.size ? strndup(o->via.str.ptr, o->via.str.size) : strdup("");
}

static bool read_attr(const msgpack_object *o, xf_attr *a)
{
	const msgpack_object *f = array_of(o, 3), *v;
	uint32_t i;

	memset(a, 0, sizeof(*a));
	if (!f || !copy_str(&f[0], a->name, sizeof(a->name)) || !copy_str(&f[1], a->event, sizeof(a->event)))
		return false;
	v = &f[2];
	switch (v->type) {
	case MSGPACK_OBJECT_NIL: a->type = XF_VALUE_NIL; return true;
	case MSGPACK_OBJECT_BOOLEAN: a->type = XF_VALUE_BOOL; a->b = v->via.boolean; return true;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		a->type = XF_VALUE_INT;
		a->i = (int64_t)v->via.u64;
		return v->via.u64 <= INT64_MAX;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: a->type = XF_VALUE_INT; a->i = v->via.i64; return true;
	case MSGPACK_OBJECT_STR: a->type = XF_VALUE_STR; return (a->str = dup_str(v)) != NULL;
	case MSGPACK_OBJECT_ARRAY:
		a->type = XF_VALUE_ARRAY;
		a->strv = calloc(v->via.array.size + 1, sizeof(*a->strv));
		if (!a->strv)
			return false;
		for (i = 0; i < v->via.array.size; i++)
			if (a->n++, !(a->strv[i] = dup_str(&v->via.array.ptr[i])))
				return false;
		return true;
	default: return false;
	}
}

/* An item's list name as the static string the fold uses. */
static const char *list_name(const msgpack_object *o)
{
	static const char *const lists[] = { "visits", "notes", "dispatches" };
	size_t i;

	for (i = 0; o->type == MSGPACK_OBJECT_STR && i < XF_ARRAY_SIZE(lists); i++)
		if (o->via.str.size == strlen(lists[i]) && memcmp(o->via.str.ptr, lists[i], o->via.str.size) == 0)
			return lists[i];
	return NULL;
}

static bool read_item(const msgpack_object *o, xf_item *it)
{
	const msgpack_object *f = array_of(o, 5);

	memset(it, 0, sizeof(*it));
	return f && (it->list = list_name(&f[0])) && (it->text = dup_str(&f[1])) &&
	       copy_str(&f[2], it->date, sizeof(it->date)) && copy_str(&f[3], it->author, sizeof(it->author)) &&
	       copy_str(&f[4], it->event, sizeof(it->event));
}

static bool read_conflict(const msgpack_object *o, xf_conflict *c)
{
	const msgpack_object *f = array_of(o, 2), *rivals;
	uint32_t i;

	memset(c, 0, sizeof(*c));
	if (!f || !copy_str(&f[0], c->field, sizeof(c->field)) || !(rivals = array_of(&f[1], 0)))
		return false;
	c->rivals = calloc(f[1].via.array.size + 1, sizeof(*c->rivals));
	if (!c->rivals)
		return false;
	for (i = 0; i < f[1].via.array.size; i++)
		if (c->n++, !read_attr(&rivals[i], &c->rivals[i]))
			return false;
	return true;
}

/* Read the array O into a new array of elements of SIZE bytes, each
 * filled by READ. *N counts each element before it is read, so that the
 * entity's free reaches what a failed read left half-filled. */
static bool read_list(const msgpack_object *o, void **out, size_t *n, size_t size,
		      bool (*read)(const msgpack_object *, void *))
{
	const msgpack_object *items = array_of(o, 0);
	uint32_t i;

	if (!items || !(*out = calloc(o->via.array.size + 1, size)))
		return false;
	for (i = 0; i < o->via.array.size; i++)
		if ((*n)++, !read(&items[i], (char *)*out + i * size))
			return false;
	return true;
}

static bool read_head(const msgpack_object *o, void *head)
{
	return copy_str(o, head, XF_EVENT_ID_MAX + 1);
}

static bool read_attr_v(const msgpack_object *o, void *a) { return read_attr(o, a); }
static bool read_item_v(const msgpack_object *o, void *it) { return read_item(o, it); }
static bool read_conflict_v(const msgpack_object *o, void *c) { return read_conflict(o, c); }

int xf_entity_decode(const uint8_t *bytes, size_t len, xf_entity **out)
{
	msgpack_unpacked u;
	const msgpack_object *f;
	xf_entity *e = calloc(1, sizeof(*e));
	size_t off = 0;
	bool ok;

	if (!e)
		return -ENOMEM;
	msgpack_unpacked_init(&u);
	/* Bytes from a damaged disk must not make msgpack-c allocate for the
	 * counts they claim. */
	ok = xf_msgpack_check(bytes, len, &off) == 0 && off == len && (off = 0, true) &&
	     msgpack_unpack_next(&u, (const char *)bytes, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len &&
	     (f = array_of(&u.data, 11)) && copy_str(&f[0], e->id, sizeof(e->id)) &&
	     f[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && f[1].via.u64 < 128 &&
	     copy_str(&f[2], e->status, sizeof(e->status)) && copy_str(&f[3], e->origin, sizeof(e->origin)) &&
	     f[4].type == MSGPACK_OBJECT_POSITIVE_INTEGER && f[5].type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	if (ok) {
		e->kind = (char)f[1].via.u64;
		e->n_events = (size_t)f[4].via.u64;
		e->hlc = f[5].via.u64;
		ok = read_list(&f[6], (void **)&e->attrs, &e->n_attrs, sizeof(*e->attrs), read_attr_v) &&
		     read_list(&f[7], (void **)&e->items, &e->n_items, sizeof(*e->items), read_item_v) &&
		     read_list(&f[8], (void **)&e->conflicts, &e->n_conflicts, sizeof(*e->conflicts),
			       read_conflict_v) &&
		     read_list(&f[9], (void **)&e->heads, &e->n_heads, sizeof(*e->heads), read_head) &&
		     read_list(&f[10], (void **)&e->awaited, &e->n_awaited, sizeof(*e->awaited), read_head);
	}
	msgpack_unpacked_destroy(&u);
	if (!ok) {
		xf_entity_free(e);
		return XF_ECORRUPT;
	}
	*out = e;
	return 0;
}
