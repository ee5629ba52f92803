/* xinfang-sync core library: the one header daemon/ and tools/ include. */
#ifndef XF_XF_H
#define XF_XF_H

#include "xf/body.h"
#include "xf/config.h"
#include "xf/error.h"
#include "xf/event.h"
#include "xf/hlc.h"
#include "xf/key.h"
#include "xf/mem.h"
#include "xf/project.h"
#include "xf/report.h"
#include "xf/status.h"
#include "xf/store.h"
#include "xf/sync.h"
#include "xf/text.h"
#include "xf/wire.h"

#endif
