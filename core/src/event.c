#include <errno.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xf/error.h"
#include "xf/event.h"

enum { F_FORMAT, F_ORIGIN, F_SEQ, F_HLC, F_PREV, F_TYPE, F_ENTITY, F_PARENTS, F_AUTHOR, F_BODY, F_COUNT };

/* Copy a msgpack str of at most MAX bytes into DST (MAX + 1 bytes). */
static int copy_str(const msgpack_object *o, char *dst, size_t max)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return XF_EPROTO;
	if (o->via.str.size > max)
		return XF_ETOOBIG;
	/* msgpack-c may give an empty string a NULL pointer. */
	if (o->via.str.size && (memchr(o->via.str.ptr, '\0', o->via.str.size)))
		return XF_EPROTO;
	if (o->via.str.size)
		memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = '\0';
	return 0;
}

static int decode_envelope(const msgpack_object *root, xf_event *ev)
{
	const msgpack_object *f;
	char origin[XF_NODE_ID_MAX + 1], id[XF_EVENT_ID_MAX + 1];
	uint64_t seq;
	size_t i;
	int r;

	if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != F_COUNT)
		return XF_EPROTO;
	f = root->via.array.ptr;
	if (f[F_FORMAT].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[F_FORMAT].via.u64 != XF_EVENT_FORMAT)
		return XF_EPROTO;
	if ((r = copy_str(&f[F_ORIGIN], ev->origin, XF_NODE_ID_MAX)) < 0 ||
	    (r = copy_str(&f[F_TYPE], ev->type, XF_TYPE_MAX)) < 0 ||
	    (r = copy_str(&f[F_ENTITY], ev->entity, XF_ENTITY_ID_MAX)) < 0 ||
	    (r = copy_str(&f[F_AUTHOR], ev->author, XF_AUTHOR_MAX)) < 0)
		return r;
	if (xf_node_id_check(ev->origin) < 0 || ev->type[0] == '\0' || ev->entity[0] == '\0')
		return XF_EPROTO;
	if (f[F_SEQ].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[F_SEQ].via.u64 == 0 ||
	    f[F_HLC].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return XF_EPROTO;
	ev->seq = f[F_SEQ].via.u64;
	ev->hlc = f[F_HLC].via.u64;
	if (f[F_PREV].type != MSGPACK_OBJECT_BIN || f[F_PREV].via.bin.size != XF_HASH_BYTES)
		return XF_EPROTO;
	memcpy(ev->prev, f[F_PREV].via.bin.ptr, XF_HASH_BYTES);
	if (f[F_PARENTS].type != MSGPACK_OBJECT_ARRAY)
		return XF_EPROTO;
	if (f[F_PARENTS].via.array.size > XF_PARENTS_MAX)
		return XF_ETOOBIG;
	ev->n_parents = f[F_PARENTS].via.array.size;
	for (i = 0; i < ev->n_parents; i++) {
		const msgpack_object *p = &f[F_PARENTS].via.array.ptr[i];

		r = copy_str(p, id, XF_EVENT_ID_MAX);
		if (r < 0)
			return r;
		if (xf_event_id_parse(id, origin, &seq) < 0)
			return XF_EPROTO;
		ev->parents[i] = (xf_str){ p->via.str.ptr, p->via.str.size };
	}
	if (f[F_BODY].type != MSGPACK_OBJECT_BIN)
		return XF_EPROTO;
	ev->body = (const uint8_t *)f[F_BODY].via.bin.ptr;
	ev->body_len = f[F_BODY].via.bin.size;
	return 0;
}

int xf_event_decode(const uint8_t *bytes, size_t len, xf_event *out)
{
	msgpack_zone zone;
	msgpack_object root;
	xf_event ev;
	size_t off = 0;
	int r;

	if (!bytes || !out)
		return -EINVAL;
	if (len > XF_EVENT_MAX)
		return XF_ETOOBIG;
	if (len <= XF_SIG_BYTES)
		return XF_EPROTO;
	memset(&ev, 0, sizeof(ev));
	ev.bytes = bytes;
	ev.len = len;
	ev.signed_len = len - XF_SIG_BYTES;
	ev.sig = bytes + ev.signed_len;
	/* The signed part must be exactly one msgpack object: no trailing
	 * bytes may hide between it and the signature. */
	if (xf_msgpack_check(bytes, ev.signed_len, &off) < 0 || off != ev.signed_len)
		return XF_EPROTO;
	if (!msgpack_zone_init(&zone, 1024))
		return -ENOMEM;
	/* Strings and bins are referenced in place: ev.body points into BYTES. */
	off = 0;
	if (msgpack_unpack((const char *)bytes, ev.signed_len, &off, &zone, &root) != MSGPACK_UNPACK_SUCCESS ||
	    off != ev.signed_len)
		r = XF_EPROTO;
	else
		r = decode_envelope(&root, &ev);
	msgpack_zone_destroy(&zone);
	if (r < 0)
		return r;
	*out = ev;
	return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int xf_event_encode(const xf_event *ev, const xf_key *key, uint8_t **out, size_t *out_len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t *bytes;
	size_t i;

	if (!ev || !key || !out || !out_len || ev->seq == 0 || ev->n_parents > XF_PARENTS_MAX)
		return -EINVAL;
	if (xf_node_id_check(ev->origin) < 0 || !ev->type[0] || !ev->entity[0])
		return -EINVAL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, F_COUNT);
	msgpack_pack_uint8(&pk, XF_EVENT_FORMAT);
	pack_str(&pk, ev->origin);
	msgpack_pack_uint64(&pk, ev->seq);
	msgpack_pack_uint64(&pk, ev->hlc);
	msgpack_pack_bin(&pk, XF_HASH_BYTES);
	msgpack_pack_bin_body(&pk, ev->prev, XF_HASH_BYTES);
	pack_str(&pk, ev->type);
	pack_str(&pk, ev->entity);
	msgpack_pack_array(&pk, ev->n_parents);
	for (i = 0; i < ev->n_parents; i++) {
		if (!ev->parents[i].ptr || ev->parents[i].len > XF_EVENT_ID_MAX) {
			msgpack_sbuffer_destroy(&sb);
			return -EINVAL;
		}
		msgpack_pack_str(&pk, ev->parents[i].len);
		msgpack_pack_str_body(&pk, ev->parents[i].ptr, ev->parents[i].len);
	}
	pack_str(&pk, ev->author);
	msgpack_pack_bin(&pk, ev->body_len);
	msgpack_pack_bin_body(&pk, ev->body, ev->body_len);
	if (!sb.data || sb.size + XF_SIG_BYTES > XF_EVENT_MAX) {
		msgpack_sbuffer_destroy(&sb);
		return sb.data ? XF_ETOOBIG : -ENOMEM;
	}
	bytes = realloc(sb.data, sb.size + XF_SIG_BYTES);
	if (!bytes) {
		msgpack_sbuffer_destroy(&sb);
		return -ENOMEM;
	}
	xf_key_sign(key, bytes, sb.size, bytes + sb.size);
	*out = bytes;
	*out_len = sb.size + XF_SIG_BYTES;
	return 0;
}

void xf_event_hash(const uint8_t *bytes, size_t len, uint8_t hash[XF_HASH_BYTES])
{
	crypto_generichash(hash, XF_HASH_BYTES, bytes, len, NULL, 0);
}

int xf_event_verify(const xf_event *ev, const uint8_t *pubkey)
{
	return xf_sig_verify(pubkey, ev->bytes, ev->signed_len, ev->sig);
}

void xf_event_id(const char *origin, uint64_t seq, char buf[XF_EVENT_ID_MAX + 1])
{
	snprintf(buf, XF_EVENT_ID_MAX + 1, "%s:%llu", origin, (unsigned long long)seq);
}
