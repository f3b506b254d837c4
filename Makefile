# Front end for the CMake build.  `make test` is what CI runs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 30

.PHONY: all deps test test-asan bench fuzz-build fuzz fuzz-regress demo format clean

all: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DEW_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/bootstrap.sh --check || scripts/bootstrap.sh

# Release build + tests, the same unit tests under ASan/UBSan, and every
# fuzz target replayed over its seed corpus.
test: all
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory fuzz-regress

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DEW_SANITIZE=ON -DEW_BUILD_BENCH=OFF -DEW_WERROR=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

bench: all
	$(BUILD)/bench/energywire-bench

$(FUZZ_BUILD)/Makefile: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEW_FUZZ=ON \
	  -DEW_BUILD_TESTS=OFF -DEW_BUILD_BENCH=OFF -DEW_BUILD_APPS=OFF -DEW_WERROR=ON

fuzz-build: $(FUZZ_BUILD)/Makefile
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

# Each target fuzzes for FUZZ_SECONDS, starting from (and adding to) a copy
# of its seed corpus.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_BUILD)/fuzz/fuzz_*; do \
	  name=$$(basename $$t); mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	  cp -n fuzz/corpus/$$name/* $(FUZZ_BUILD)/corpus/$$name/ 2>/dev/null || true; \
	  echo "== $$name ($(FUZZ_SECONDS) s)"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_BUILD)/corpus/$$name; \
	done

# Replays the committed corpus once through every target (no fuzzing).
fuzz-regress: fuzz-build
	@set -e; for t in $(FUZZ_BUILD)/fuzz/fuzz_*; do \
	  name=$$(basename $$t); \
	  $$t -runs=0 fuzz/corpus/$$name >/dev/null 2>&1 || { $$t -runs=0 fuzz/corpus/$$name; exit 1; }; \
	  echo "fuzz-regress: $$name: $$(ls fuzz/corpus/$$name | wc -l) corpus inputs ok"; \
	done

# A simulated E3/DC plant and a live power-flow view of it (Ctrl-C stops).
demo: all
	$(BUILD)/energywire demo

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
