# The front door. `make demo` and `make test` do all the set-up on a fresh Debian 12
# machine (as root): they install what they need with apt-get first (scripts/deps.sh).
#
#   make          build everything into build/ (build/shoald, build/shoal)
#   make demo     build, make three local nodes and play the swarm tutorial on them
#   make test     every test: unit, integration (plain and sanitized builds), fuzzing
#   make asan     the AddressSanitizer + UndefinedBehaviorSanitizer build, in build-asan/
#   make fuzz     run the HTTP request fuzzer for FUZZ_SECONDS (default 60)
#   make bench    the benchmarks in bench/, against Docker measured in the same run
#   make images   the demo images (instavote/vote:latest and :indent) as docker save tars
#   make format   clang-format every C file

FUZZ_SECONDS ?= 60
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src cmd tests bench -name '*.[ch]')

.PHONY: all deps build asan fuzz fuzz-build test demo bench images format format-check clean

all: build

deps:
	@scripts/deps.sh

build/build.ninja:
	meson setup build

build: build/build.ninja
	ninja -C build

build-asan/build.ninja:
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: build-asan/build.ninja
	ninja -C build-asan

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false -Dbuildtype=debug

fuzz-build: build-fuzz/build.ninja
	ninja -C build-fuzz tests/fuzz/fuzz_http

fuzz: deps fuzz-build
	tests/fuzz/run.sh build-fuzz/tests/fuzz/fuzz_http $(FUZZ_SECONDS)

test: deps
	$(MAKE) --no-print-directory build asan fuzz-build
	/usr/bin/python3 tests/run.py

demo: deps
	$(MAKE) --no-print-directory build
	scripts/demo.sh

images: deps
	scripts/images.sh build/images

bench: deps
	$(MAKE) --no-print-directory build
	bench/run.sh

format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run -Werror $(C_FILES)

clean:
	rm -rf build build-asan build-fuzz
