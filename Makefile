# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tlstrace build, in the manner of libbpf-bootstrap (header dependencies via
# -MMD -MP). Every product goes to .output/; the binary to ./tlstrace.

OUTPUT := .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
ARCH := x86
WERROR ?= 1
SAN ?= 0

INCLUDES := -Iinclude -I$(OUTPUT) -Iuser $(shell pkg-config --cflags json-c 2>/dev/null)
CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Werror=undef -fno-omit-frame-pointer -MMD -MP
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
LDLIBS := -lbpf -lelf -lcapstone -lz -ljson-c -lnghttp2 -lcurl -lmicrohttpd -lpthread

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -Ivmlinux -Ibpf -MMD -MP

# every bpf/*.bpf.c: a new TLS library family is one more file, found here
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(sort $(wildcard bpf/*.bpf.c)))
# user space, one folder per stage of the flow: probe/ attaches (finding the
# BPF programs by name), collect/ turns events into entries, export/ writes
# them, common/ holds helpers all of them use and the table of TLS libraries;
# main.c (the lifecycle), options.c, run.c (records to writers, the poll loop)
# and report.c (a run's account of itself) drive the run.
PROBE_SRCS := $(wildcard user/probe/*.c)
COLLECT_SRCS := $(wildcard user/collect/*.c)
EXPORT_SRCS := $(wildcard user/export/*.c)
COMMON_SRCS := $(wildcard user/common/*.c)
APP_SRCS := $(wildcard user/*.c)
# the two files that include the BPF skeleton: the object's life, and the targets it filters
SKEL_SRCS := user/probe/probes.c user/probe/targets.c
# what the unit tests link: every stage but the files that load BPF, and no driver
CORE_SRCS := $(COLLECT_SRCS) $(EXPORT_SRCS) $(COMMON_SRCS) $(filter-out $(SKEL_SRCS),$(PROBE_SRCS))
OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(APP_SRCS) $(PROBE_SRCS) $(COLLECT_SRCS) \
	$(EXPORT_SRCS) $(COMMON_SRCS))
USER_HDRS := $(wildcard user/*.h user/*/*.h include/*.h)
TEST_SRCS := $(wildcard tests/unit/test_*.c) tests/unit/events.c tests/unit/protobuf_reader.c
# libFuzzer targets: the collector, the parsers, redaction and escaping, with ASan and UBSan
FUZZ_TARGETS := http1 http2 collector redact sanitize tlswire gopclntab cgroup
FUZZ_SRCS := $(COLLECT_SRCS) user/export/redact.c user/export/json.c user/export/phases.c \
	user/export/filter.c user/export/otlp.c user/export/otlp_json.c \
	user/export/text.c \
	user/probe/gopclntab.c \
	$(COMMON_SRCS)
FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_TIME ?= 600
TEST_BIN := $(OUTPUT)/unit_tests

# make install: the binary to sbin (it runs as root), its man page,
# tlstrace(8), and its bash completion, under PREFIX; DESTDIR stages them
# elsewhere, as packagers do. One list serves install and uninstall.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL ?= install
INSTALL_PROGRAM ?= $(INSTALL) -m 0755
INSTALL_DATA ?= $(INSTALL) -m 0644
INSTALLED_BIN = $(DESTDIR)$(SBINDIR)/tlstrace
INSTALLED_MAN = $(DESTDIR)$(MANDIR)/man8/tlstrace.8
INSTALLED_COMPLETION = $(DESTDIR)$(BASHCOMPDIR)/tlstrace

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean check test unit e2e deps demo bench vmlinux fuzz fuzz-run libbpf-version \
	install uninstall
.DELETE_ON_ERROR:

all: tlstrace

$(OUTPUT):
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/tlstrace.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/tlstrace.skel.h: $(OUTPUT)/tlstrace.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tlstrace_bpf > $@

# only these include the skeleton
$(patsubst user/%.c,$(OUTPUT)/%.o,$(SKEL_SRCS)): $(OUTPUT)/tlstrace.skel.h

$(OUTPUT)/%.o: user/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

# libbpf 1.4 or later, for uprobe_multi links (Debian 12: bookworm-backports),
# checked before anything that attaches is compiled
libbpf-version:
	$(Q)pkg-config --atleast-version=1.4 libbpf || { echo "tlstrace needs libbpf 1.4 or" \
		"later, found $$(pkg-config --modversion libbpf 2>/dev/null || echo none):" \
		"run scripts/install-deps.sh as root" >&2; exit 1; }
$(patsubst user/%.c,$(OUTPUT)/%.o,$(PROBE_SRCS)): | libbpf-version

tlstrace: $(OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# unit tests: no root, built with sanitizers in their own directory. They
# build without the BPF skeleton (no clang -target bpf, no bpftool): without
# -I$(OUTPUT), a file of theirs that included it would not compile.
$(TEST_BIN): $(TEST_SRCS) $(CORE_SRCS) $(USER_HDRS) $(wildcard tests/unit/*.h) | $(OUTPUT) libbpf-version
	$(call msg,TEST,$@)
	$(Q)$(CC) -g -O1 -std=gnu11 -Wall -Wextra -Werror -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer \
		$(filter-out -I$(OUTPUT),$(INCLUDES)) -Itests/unit \
		$(TEST_SRCS) $(CORE_SRCS) $(LDLIBS) -o $@

$(OUTPUT)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_SRCS) $(USER_HDRS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(OUTPUT)/fuzz
	$(Q)$(CLANG) -g -O1 -std=gnu11 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer $(INCLUDES) $< $(FUZZ_SRCS) \
		-lz -lnghttp2 -ljson-c -lcurl -lpthread -o $@

fuzz: $(FUZZ_BINS)

# a longer run than CI's: FUZZ_TIME seconds per target (default 600)
fuzz-run:
	$(Q)./fuzz/run.sh $(FUZZ_TIME)

deps:
	$(Q)./scripts/install-deps.sh

unit: $(TEST_BIN)
	$(Q)$(TEST_BIN)

test:
	$(Q)./tests/run.sh

demo:
	$(Q)./scripts/demo.sh

bench:
	$(Q)./bench/run.sh

check:
	$(Q)clang-format --dry-run --Werror bpf/*.c bpf/*.h user/*.c user/*.h user/*/*.c user/*/*.h include/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c

# Installs what `make` built, and builds nothing: `sudo make install` after
# `make` leaves no root-owned file in the tree. A binary missing or older
# than its sources is refused (make -q: is it up to date?; libbpf-version,
# phony, would always answer no). Asked in one command with the build
# (make tlstrace install), it waits for it.
install: $(filter all tlstrace,$(MAKECMDGOALS))
	$(Q)test -x tlstrace && $(MAKE) --no-print-directory -q -o libbpf-version tlstrace || \
		{ echo "make install: tlstrace is not built or is older than its sources:" \
			"run make first" >&2; exit 1; }
	$(call msg,INSTALL,$(INSTALLED_BIN))
	$(Q)$(INSTALL_PROGRAM) -D tlstrace "$(INSTALLED_BIN)"
	$(call msg,INSTALL,$(INSTALLED_MAN))
	$(Q)$(INSTALL_DATA) -D docs/tlstrace.8 "$(INSTALLED_MAN)"
	$(call msg,INSTALL,$(INSTALLED_COMPLETION))
	$(Q)$(INSTALL_DATA) -D scripts/bash-completion/tlstrace "$(INSTALLED_COMPLETION)"

# the files install wrote, and nothing else: directories stay, as they
# may hold others' files or have been there before
uninstall:
	$(call msg,RM,$(INSTALLED_BIN))
	$(call msg,RM,$(INSTALLED_MAN))
	$(call msg,RM,$(INSTALLED_COMPLETION))
	$(Q)rm -f "$(INSTALLED_BIN)" "$(INSTALLED_MAN)" "$(INSTALLED_COMPLETION)"

vmlinux:
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

clean:
	$(Q)rm -rf $(OUTPUT) tlstrace

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/*/*.d)
