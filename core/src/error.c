#include <string.h>

#include "xf/error.h"

static const char *const messages[] = {
	[XF_ENOTFOUND - XF_EFIRST] = "not found",
	[XF_EEXIST - XF_EFIRST] = "already exists",
	[XF_ECORRUPT - XF_EFIRST] = "stored data is corrupt",
	[XF_EPROTO - XF_EFIRST] = "malformed event or message",
	[XF_ETOOBIG - XF_EFIRST] = "size limit exceeded",
	[XF_EFORK - XF_EFIRST] = "fork: a different event for an origin:seq already held",
	[XF_EBADSIG - XF_EFIRST] = "signature does not verify",
	[XF_ECHAIN - XF_EFIRST] = "hash chain broken",
	[XF_ESEQ - XF_EFIRST] = "sequence not contiguous",
	[XF_EUNKNOWNNODE - XF_EFIRST] = "node not enrolled",
	[XF_EUNSAFE - XF_EFIRST] = "unsafe permissions or owner",
	[XF_ESCHEMA - XF_EFIRST] = "data written by a newer schema version",
	[XF_EUTF8 - XF_EFIRST] = "text is not valid UTF-8 or has control characters",
	[XF_EDATE - XF_EFIRST] = "not a valid date (YYYY-MM-DD, not in the future)",
	[XF_ECONFIG - XF_EFIRST] = "invalid configuration",
	[XF_ESTATE - XF_EFIRST] = "not allowed in the current state",
	[XF_ENODE - XF_EFIRST] = "data dir belongs to another node",
	[XF_ESTORE - XF_EFIRST] = "storage engine failure",
	[XF_ESKEW - XF_EFIRST] = "clock skew: request time too far from the server's",
	[XF_ESCOPE - XF_EFIRST] = "an act on a record outside its node's scope",
};

const char *xf_strerror(int r)
{
	if (r >= XF_EFIRST && r < XF_ELAST)
		return messages[r - XF_EFIRST];
	if (r < 0 && r > -4096)
		return strerror(-r);
	return r == 0 ? "success" : "unknown error";
}
