# stowage: `make` builds build/stowage; `make demo` and `make check` first
# install whatever is missing (scripts/setup.sh), as the README says.
CC ?= cc
PKGS := libcurl libcrypto jansson zlib libzstd
BUILD ?= build
SANITIZE ?=

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked: lib/curl_api.c loads it when a transfer needs it
# (its dependencies' start-up cost every run), by the absolute path of the
# library compiled against.
PKG_LIBS := $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)
CURL_LIBDIR := $(shell pkg-config --variable=libdir libcurl 2>/dev/null)

CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	  -Wformat=2 -Wno-format-nonliteral -fno-strict-aliasing -include lib/banned.h \
	  -Iinclude -Ilib $(PKG_CFLAGS) -MMD -MP \
	  $(if $(CURL_LIBDIR),-DSTW_LIBCURL_PATH='"$(CURL_LIBDIR)/libcurl.so.4"')
override LDLIBS += $(PKG_LIBS) -lpthread
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC := $(wildcard lib/*.c)
CLI_SRC := $(wildcard src/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Fuzz targets (tests/fuzz/fuzz_<name>.c): each also links with a replay
# driver into build/tests/fuzz_<name>, run by `make check` over its corpus.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
UNIT_BIN += $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz_%)
FUZZ_SECONDS ?= 30
# The allocation-failure build (tests/alloc/failalloc.c): the same objects,
# every allocation of stowage's code and jansson's counted and failable.
UNIT_BIN += $(BUILD)/stowage-failalloc
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup

.PHONY: all setup demo check check-unit check-e2e bench clean fixtures fuzz fuzz-build
all: $(BUILD)/stowage

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libstowage.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/stowage: $(CLI_OBJ) $(BUILD)/libstowage.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h tests/unit/test_support.h $(BUILD)/libstowage.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libstowage.a $(LDLIBS)

$(BUILD)/stowage-failalloc: $(CLI_OBJ) $(BUILD)/libstowage.a tests/alloc/failalloc.c
	$(CC) $(CFLAGS) -c -o $(BUILD)/tests-failalloc.o tests/alloc/failalloc.c
	$(CC) $(LDFLAGS) $(WRAP_ALLOC) -o $@ $(CLI_OBJ) $(BUILD)/tests-failalloc.o $(BUILD)/libstowage.a $(LDLIBS)

# The replay build of a fuzz target: reads tests/fuzz/corpus/<name>/ by default.
$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(BUILD)/libstowage.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -DFUZZ_CORPUS='"tests/fuzz/corpus/$*"' $(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(BUILD)/libstowage.a $(LDLIBS)

# libFuzzer builds (clang) in build/fuzz, then a bounded run of each target:
# `make fuzz FUZZ_SECONDS=30` (tests/fuzz/run.sh says what it found).
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="-O1 -g $(FUZZ_FLAGS) -fno-sanitize-recover=all" \
		build/fuzz/libstowage.a
	@for t in $(FUZZ_NAMES); do \
		clang -O1 -g -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			-Iinclude -Ilib -Itests/fuzz $(PKG_CFLAGS) -o build/fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c \
			build/fuzz/libstowage.a $(LDLIBS) || exit 1; \
	done

fuzz: setup fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

setup:
	@bash scripts/setup.sh

fixtures: setup
	@bash tests/fixtures/build.sh

# The quick start: builds the fd tool image for amd64 and arm64, exports
# both to an OCI layout and shows what is in them.
demo: setup
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

# Every test: unit tests and end-to-end tests, with the optimised build and
# with AddressSanitizer + UndefinedBehaviorSanitizer.
check: setup
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@$(MAKE) --no-print-directory BUILD=build/san SANITIZE=address,undefined CFLAGS="-O1 -g" all \
		$(UNIT_BIN:$(BUILD)/%=build/san/%)
	@bash tests/run.sh

bench: setup
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
