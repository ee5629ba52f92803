# xinfang-sync. `make demo` and `make check` are all a fresh Debian 12
# machine needs; both install missing build dependencies first (as root).
#
# Two build trees: build/release (-O2, what `make`, `install` and `bench`
# use) and build/asan (AddressSanitizer + UBSan, what `check` tests).

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
MODE ?= release
O := build/$(MODE)

PKGS := lmdb libcurl msgpack zlib libmicrohttpd gnutls libsodium inih jansson
DEB_PACKAGES := build-essential pkg-config liblmdb-dev libcurl4-gnutls-dev libmsgpack-dev \
	zlib1g-dev libmicrohttpd-dev libgnutls28-dev libsodium-dev libinih-dev libcmocka-dev \
	libjansson-dev libcsv-dev bats python3 python3-prometheus-client curl scdoc systemd openssl
# Only `make fuzz` needs clang (libFuzzer); `make check` runs the targets with gcc.
FUZZ_PACKAGES := clang

CC ?= gcc
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_release := -O2 -g
CFLAGS_asan := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_asan := -fsanitize=address,undefined
CFLAGS_fuzz := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_fuzz := -fsanitize=fuzzer,address,undefined

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
XCFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS_$(MODE)) $(CFLAGS) -Icore/include $(PKG_CFLAGS)
XLDFLAGS = -Wl,--as-needed $(LDFLAGS_$(MODE)) $(LDFLAGS)

CORE_SRC := $(wildcard core/src/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(O)/%.o)
LIB := $(O)/libxinfang.a
CTL_SRC := $(wildcard tools/*.c)
# `xinfangctl sync` runs the daemon's own sync client once; `status` shares its JSON.
CTL_OBJ := $(CTL_SRC:%.c=$(O)/%.o) $(O)/daemon/client.o $(O)/daemon/status.o $(O)/daemon/log.o
CTL := $(O)/xinfangctl
XFD_SRC := $(wildcard daemon/*.c)
XFD_OBJ := $(XFD_SRC:%.c=$(O)/%.o)
XFD := $(O)/xinfangd
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(O)/tests/tools/%)
PRELOAD_SRC := $(wildcard tests/tools/preload/*.c)
PRELOAD_LIB := $(PRELOAD_SRC:tests/tools/preload/%.c=$(O)/tests/tools/%.so)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_RUN := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/tests/fuzz/%)
FUZZ_SECONDS ?= 60
BENCH_SRC := $(filter-out tests/bench/records.c,$(wildcard tests/bench/*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(O)/bench/%)

MAN_SRC := $(wildcard man/*.scd)
MAN := $(MAN_SRC:man/%.scd=build/man/%)

.PHONY: all build deps install-packages check check-headers demo bench install uninstall clean tests man fuzz torture
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory MODE=release build man

man: $(MAN)

build/man/%: man/%.scd
	@mkdir -p $(dir $@)
	@echo "  SCDOC   $<"
	@scdoc <$< >$@


build: $(LIB) $(CTL) $(XFD)

tests: build $(UNIT_BIN) $(TOOL_BIN) $(PRELOAD_LIB) $(FUZZ_RUN) $(O)/bench/bench_fill

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(XCFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(CORE_OBJ)
	@echo "  AR      $@"
	@ar rcs $@ $^

# libcsv (spreadsheets in and out) ships no pkg-config file.
$(CTL): $(CTL_OBJ) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(XLDFLAGS) $^ $(PKG_LIBS) -lcsv -lpthread -o $@

$(XFD): $(XFD_OBJ) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(XLDFLAGS) $^ $(PKG_LIBS) -lpthread -o $@

$(O)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC LD   $@"
	@$(CC) $(XCFLAGS) -MMD -MP -Icore/src $< $(LIB) $(XLDFLAGS) $(PKG_LIBS) -lpthread $(shell pkg-config --libs cmocka) -o $@

# Fuzz targets: in `make check` each runs over its corpus (tests/run);
# `make fuzz` builds them with clang and libFuzzer and fuzzes each for
# FUZZ_SECONDS, new inputs in build/fuzz/corpus, crashers in build/fuzz/crashes.
$(O)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/run.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC LD   $@"
	@$(CC) $(XCFLAGS) -MMD -MP $< $(if $(filter fuzz,$(MODE)),,tests/fuzz/run.c) $(LIB) $(XLDFLAGS) $(PKG_LIBS) -lpthread -o $@

fuzz: deps
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(FUZZ_PACKAGES)"
	@$(MAKE) --no-print-directory MODE=fuzz CC=clang $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/tests/fuzz/%)
	@tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

# Test helpers that speak the protocol to craft what no honest node sends.
$(O)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC LD   $@"
	@$(CC) $(XCFLAGS) -MMD -MP $< $(LIB) $(XLDFLAGS) $(PKG_LIBS) -lpthread -o $@

# LD_PRELOAD shims that bend what a daemon under test sees. Built without
# sanitizers: a shim is loaded before the daemon's own sanitizer runtime.
$(O)/tests/tools/%.so: tests/tools/preload/%.c
	@mkdir -p $(dir $@)
	@echo "  CC LD   $@"
	@$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -fPIC -shared $(CFLAGS) $< -ldl -o $@

$(O)/bench/%: tests/bench/%.c tests/bench/records.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC LD   $@"
	@$(CC) $(XCFLAGS) -MMD -MP $< tests/bench/records.c $(LIB) $(XLDFLAGS) $(PKG_LIBS) -lpthread -o $@

# Installs what is missing, with apt-get, when run as root; otherwise says
# what to install.
deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES)"

install-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:" $$missing; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
		else \
			echo "missing build dependencies; as root run: apt-get install $$missing" >&2; exit 1; \
		fi; \
	fi

check-headers:
	@mkdir -p build/headers
	@for h in core/include/xf/*.h; do \
		echo "#include \"xf/$$(basename $$h)\"" | $(CC) -std=c11 -Wall -Wextra -pedantic -Werror -Icore/include -x c -c - -o build/headers/$$(basename $$h .h).o || exit 1; \
	done; echo "headers: all compile alone"

check: deps check-headers
	@$(MAKE) --no-print-directory MODE=asan tests
	@$(MAKE) --no-print-directory MODE=release build
	@tests/run build/asan

# More crash rounds than `make check` runs (tests/integration/test_crash.bats).
ROUNDS ?= 20
torture: deps
	@$(MAKE) --no-print-directory MODE=asan tests
	@XF_BUILD=$(abspath build/asan) XF_TOP=$(CURDIR) XF_CRASH_ROUNDS=$(ROUNDS) bats --tap tests/integration/test_crash.bats

demo: deps
	@$(MAKE) --no-print-directory MODE=release build
	@tests/demo.sh build/release

bench: deps
	@$(MAKE) --no-print-directory MODE=release build $(BENCH_BIN)
	@tests/bench/run.sh build/release

# Binaries, the systemd unit with its user and data dir, man pages, the
# documentation and example configs; /etc/xinfang/xinfang.conf only when
# there is none yet. Packagers set PREFIX=/usr and DESTDIR.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/xinfang-sync/examples \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(SYSCONFDIR)/xinfang
	install -m 0755 build/release/xinfangctl build/release/xinfangd $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 build/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 build/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	sed 's|@BINDIR@|$(PREFIX)/bin|' systemd/xinfangd.service.in >$(DESTDIR)$(PREFIX)/lib/systemd/system/xinfangd.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/xinfangd.service
	install -m 0644 systemd/xinfang.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/xinfang.conf
	install -m 0644 systemd/xinfang.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/xinfang.conf
	install -m 0644 conf/village.conf conf/township.conf $(DESTDIR)$(PREFIX)/share/doc/xinfang-sync/examples/
	install -m 0644 README.md daemon/PROTOCOL.md core/MERGE.md $(DESTDIR)$(PREFIX)/share/doc/xinfang-sync/
	[ -e $(DESTDIR)$(SYSCONFDIR)/xinfang/xinfang.conf ] || \
		install -m 0640 conf/village.conf $(DESTDIR)$(SYSCONFDIR)/xinfang/xinfang.conf

# Leaves /etc/xinfang/xinfang.conf and every data dir alone: the records
# are not ours to delete.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/xinfangctl $(DESTDIR)$(PREFIX)/bin/xinfangd
	rm -f $(DESTDIR)$(PREFIX)/share/man/man5/xinfang.conf.5 $(DESTDIR)$(PREFIX)/share/man/man8/xinfangd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/xinfangctl.8
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system/xinfangd.service $(DESTDIR)$(PREFIX)/lib/sysusers.d/xinfang.conf \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d/xinfang.conf
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/xinfang-sync

clean:
	rm -rf build

-include $(FUZZ_RUN:=.d) $(CORE_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(XFD_OBJ:.o=.d) $(UNIT_BIN:=.d) $(TOOL_BIN:=.d) $(BENCH_BIN:=.d)
