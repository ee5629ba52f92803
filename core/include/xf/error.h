/* xinfang-sync core: error codes.
 *
 * Every core function that can fail returns int: 0 on success, a negative
 * value on failure. System failures are -errno; the project's own failures
 * are the XF_E* codes below, in a range no errno reaches. xf_strerror()
 * explains both. A positive return is only used where a header says so. */
#ifndef XF_ERROR_H
#define XF_ERROR_H

enum {
	XF_EFIRST     = -30999,
	XF_ENOTFOUND  = XF_EFIRST, /* no such event, entity, node or key */
	XF_EEXIST,                 /* already exists (data dir, key, node) */
	XF_ECORRUPT,               /* stored bytes fail to decode */
	XF_EPROTO,                 /* malformed event or message */
	XF_ETOOBIG,                /* a size limit was exceeded */
	XF_EFORK,                  /* a different event for an origin:seq held */
	XF_EBADSIG,                /* an Ed25519 signature does not verify */
	XF_ECHAIN,                 /* prev hash does not link to the chain */
	XF_ESEQ,                   /* seq is not contiguous */
	XF_EUNKNOWNNODE,           /* no enrolled key for that node */
	XF_EUNSAFE,                /* file or directory with unsafe permissions */
	XF_ESCHEMA,                /* data dir from a newer schema version */
	XF_EUTF8,                  /* text is not valid UTF-8 */
	XF_EDATE,                  /* not a real YYYY-MM-DD date, or in the future */
	XF_ECONFIG,                /* configuration file invalid */
	XF_ESTATE,                 /* act not allowed in the entity's state */
	XF_ENODE,                  /* data dir belongs to another node id */
	XF_ESTORE,                 /* other storage engine failure */
	XF_ESKEW,                  /* request time too far from the server's clock */
	XF_ESCOPE,                 /* an act on a record outside its node's scope */
	XF_ELAST
};

/* A static, English, one-line description of an error code from any core
 * function (negative XF_E* or -errno). Never NULL. */
const char *xf_strerror(int r);

#endif
