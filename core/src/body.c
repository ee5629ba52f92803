#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xf/body.h"
#include "xf/error.h"
#include "xf/text.h"

#define BODY_KEYS_MAX 32
#define BODY_KEY_MAX 31

struct xf_body {
	msgpack_sbuffer fields; /* the packed key/value pairs */
	msgpack_packer pk;
	char keys[BODY_KEYS_MAX][BODY_KEY_MAX + 1]; /* for the duplicate check */
	size_t n;
	msgpack_sbuffer encoded; /* map header ++ fields, rebuilt by xf_body_bytes() */
};

int xf_body_new(xf_body **out)
{
	xf_body *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	msgpack_sbuffer_init(&b->fields);
	msgpack_sbuffer_init(&b->encoded);
	msgpack_packer_init(&b->pk, &b->fields, msgpack_sbuffer_write);
	*out = b;
	return 0;
}

void xf_body_free(xf_body *b)
{
	if (!b)
		return;
	msgpack_sbuffer_destroy(&b->fields);
	msgpack_sbuffer_destroy(&b->encoded);
	free(b);
}

static int put_key(xf_body *b, const char *key)
{
	size_t i, n = strlen(key);

	if (b->n == BODY_KEYS_MAX || n == 0 || n > BODY_KEY_MAX)
		return -EINVAL;
	for (i = 0; i < b->n; i++)
		if (strcmp(b->keys[i], key) == 0)
			return -EINVAL;
	memcpy(b->keys[b->n++], key, n + 1);
	msgpack_pack_str(&b->pk, n);
	msgpack_pack_str_body(&b->pk, key, n);
	return 0;
}

static void pack_text(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int xf_body_put_str(xf_body *b, const char *key, const char *val, size_t max)
{
	int r = xf_text_check(val, max);

	if (r < 0)
		return r;
	r = put_key(b, key);
	if (r < 0)
		return r;
	pack_text(&b->pk, val);
	return 0;
}

int xf_body_put_int(xf_body *b, const char *key, int64_t val)
{
	int r = put_key(b, key);

	if (r < 0)
		return r;
	msgpack_pack_int64(&b->pk, val);
	return 0;
}

int xf_body_put_bool(xf_body *b, const char *key, bool val)
{
	int r = put_key(b, key);

	if (r < 0)
		return r;
	if (val)
		msgpack_pack_true(&b->pk);
	else
		msgpack_pack_false(&b->pk);
	return 0;
}

int xf_body_put_strv(xf_body *b, const char *key, const char *const *vals, size_t n, size_t max)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = xf_text_check(vals[i], max);
		if (r < 0)
			return r;
	}
	r = put_key(b, key);
	if (r < 0)
		return r;
	msgpack_pack_array(&b->pk, n);
	for (i = 0; i < n; i++)
		pack_text(&b->pk, vals[i]);
	return 0;
}

int xf_body_bytes(xf_body *b, const uint8_t **data, size_t *len)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(&b->encoded);
	msgpack_packer_init(&pk, &b->encoded, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, b->n);
	if (b->fields.size)
		msgpack_sbuffer_write(&b->encoded, b->fields.data, b->fields.size);
	if (!b->encoded.data)
		return -ENOMEM;
	*data = (const uint8_t *)b->encoded.data;
	*len = b->encoded.size;
	return 0;
}

struct xf_fields {
	msgpack_zone zone;
	size_t n;
	const char **keys;
	size_t *key_lens;
	xf_value *values;
};

static int convert(msgpack_zone *z, const msgpack_object *o, xf_value *v)
{
	size_t i;
	xf_value *items;

	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		v->type = XF_VALUE_NIL;
		return 0;
	case MSGPACK_OBJECT_BOOLEAN:
		v->type = XF_VALUE_BOOL;
		v->b = o->via.boolean;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			break;
		v->type = XF_VALUE_INT;
		v->i = (int64_t)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v->type = XF_VALUE_INT;
		v->i = o->via.i64;
		return 0;
	case MSGPACK_OBJECT_STR:
		v->type = XF_VALUE_STR;
		/* msgpack-c may give an empty string a NULL pointer. */
		v->s = o->via.str.size ? o->via.str.ptr : "";
		v->len = o->via.str.size;
		return 0;
	case MSGPACK_OBJECT_ARRAY:
		items = msgpack_zone_malloc(z, sizeof(*items) * (o->via.array.size + 1));
		if (!items)
			return -ENOMEM;
		for (i = 0; i < o->via.array.size; i++) {
			/* One level of nesting is all a body has; deeper values
			 * from a newer version are kept opaque. */
			if (o->via.array.ptr[i].type == MSGPACK_OBJECT_ARRAY ||
			    o->via.array.ptr[i].type == MSGPACK_OBJECT_MAP)
				memset(&items[i], 0, sizeof(items[i])), items[i].type = XF_VALUE_OTHER;
			else if (convert(z, &o->via.array.ptr[i], &items[i]) < 0)
				return -ENOMEM;
		}
		v->type = XF_VALUE_ARRAY;
		v->items = items;
		v->len = o->via.array.size;
		return 0;
	default:
		break;
	}
	v->type = XF_VALUE_OTHER;
	return 0;
}

int xf_fields_parse(const uint8_t *body, size_t len, xf_fields **out)
{
	msgpack_object root;
	xf_fields *f;
	size_t off = 0, i;
	int r;

	if (!body || xf_msgpack_check(body, len, &off) < 0 || off != len)
		return XF_EPROTO;
	off = 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (!msgpack_zone_init(&f->zone, 2048)) {
		free(f);
		return -ENOMEM;
	}
	if (msgpack_unpack((const char *)body, len, &off, &f->zone, &root) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || root.type != MSGPACK_OBJECT_MAP) {
		r = XF_EPROTO;
		goto cleanup;
	}
	f->n = root.via.map.size;
	f->keys = msgpack_zone_malloc(&f->zone, sizeof(*f->keys) * (f->n + 1));
	f->key_lens = msgpack_zone_malloc(&f->zone, sizeof(*f->key_lens) * (f->n + 1));
	f->values = msgpack_zone_malloc(&f->zone, sizeof(*f->values) * (f->n + 1));
	if (!f->keys || !f->key_lens || !f->values) {
		r = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < f->n; i++) {
		const msgpack_object_kv *kv = &root.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR) {
			r = XF_EPROTO;
			goto cleanup;
		}
		f->keys[i] = kv->key.via.str.size ? kv->key.via.str.ptr : "";
		f->key_lens[i] = kv->key.via.str.size;
		r = convert(&f->zone, &kv->val, &f->values[i]);
		if (r < 0)
			goto cleanup;
	}
	*out = f;
	return 0;
cleanup:
	xf_fields_free(f);
	return r;
}

void xf_fields_free(xf_fields *f)
{
	if (!f)
		return;
	msgpack_zone_destroy(&f->zone);
	free(f);
}

size_t xf_fields_count(const xf_fields *f)
{
	return f->n;
}

const char *xf_fields_key(const xf_fields *f, size_t i, size_t *len)
{
	*len = f->key_lens[i];
	return f->keys[i];
}

const xf_value *xf_fields_value(const xf_fields *f, size_t i)
{
	return &f->values[i];
}

const xf_value *xf_fields_get(const xf_fields *f, const char *key)
{
	size_t i, n = strlen(key);

	for (i = 0; i < f->n; i++)
		if (f->key_lens[i] == n && memcmp(f->keys[i], key, n) == 0)
			return &f->values[i];
	return NULL;
}

char *xf_value_str(const xf_value *v, char *buf, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return buf;
	if (v && v->type == XF_VALUE_STR) {
		n = v->len < size - 1 ? v->len : size - 1;
		memcpy(buf, v->s, n);
	}
	buf[n] = '\0';
	return buf;
}
