# argus — the two commands that matter:
#   make demo   install what is needed, build, boot the bundled guest, watch it
#   make test   install what is needed, build, run every test
# Everything else here serves those two.

BUILD      ?= build
ASAN_BUILD ?= build-asan
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PKGS   := meson ninja-build pkg-config gcc clang libbpf-dev libelf-dev libdw-dev \
              libyaml-dev libjansson-dev libssl-dev zlib1g-dev liblzma-dev libcmocka-dev \
              qemu-system-x86 busybox-static bash socat cpio syslog-ng-core \
              python3 python3-pytest libclang-rt-14-dev jq kmod crun \
              qemu-system-arm gcc-aarch64-linux-gnu python3-drgn crash e2fsprogs \
              debhelper lintian logrotate systemd libmicrohttpd-dev prometheus \
              libmsgpack-dev librelp-dev python3-msgpack libestr0 libfastjson4 liblognorm5 \
              libvirt-daemon-system libvirt-clients
PYTEST     := /usr/bin/python3 -m pytest -q -p no:cacheprovider

.PHONY: all deps build demo test unit asan unit-asan guest-tests clean fuzz fuzz-smoke soak

all: build

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

# the sanitizers' build: its unit tests, and its argus against the guests (tests/integration/test_asan.py)
asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

unit-asan: asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

# the soak (tests/integration/test_soak.py) runs SOAK_SECONDS of churn; `make soak` the full ten minutes
SOAK_SECONDS ?= 180
# the benign workload (tests/integration/test_benign.py) runs BENIGN_SECONDS; bench/run benign longer
BENIGN_SECONDS ?= 180
# --durations: the slowest tests named at the end, to keep the run within CI's hour
guest-tests: build asan
	ARGUS=$(abspath $(BUILD))/argus ARGUS_ASAN=$(abspath $(ASAN_BUILD))/argus ARGUS_SOAK_SECONDS=$(SOAK_SECONDS) ARGUS_BENIGN_SECONDS=$(BENIGN_SECONDS) \
	  $(PYTEST) --durations=50 $(wildcard tests/guest tests/integration)

soak: build
	ARGUS=$(abspath $(BUILD))/argus ARGUS_SOAK_SECONDS=600 $(PYTEST) -s tests/integration/test_soak.py

test: deps build unit unit-asan fuzz-smoke guest-tests

demo: build
	@bash tests/guest/demo.sh $(abspath $(BUILD))/argus

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# libFuzzer harnesses (clang): FUZZ_SECONDS each, FUZZ_JOBS at once (one per
# core), new inputs under build-fuzz/corpus.
# fuzz_scan mutates a real guest's memory: its image is a dump of the test guest.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(shell nproc)
# the longest first: fuzz_scan's seed corpus alone takes about 110 s (a whole scan an input)
FUZZERS := scan isf btf btf_split memimage regions vmcoreinfo config kallsyms sbom vmlayout fwdack kfind a64ref textsweep
FUZZ_IMAGE := build-fuzz/guest.img
fuzz: build
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled \
	  -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 -Ddebug=true
	ninja -C build-fuzz
	@[ -s $(FUZZ_IMAGE) ] && [ $(FUZZ_IMAGE) -nt fuzz/mkimage.sh ] || fuzz/mkimage.sh $(BUILD)/argus $(FUZZ_IMAGE)
	@printf '%s\n' $(FUZZERS) | xargs -P $(FUZZ_JOBS) -I{} fuzz/run-one.sh {} $(FUZZ_SECONDS) $(FUZZ_IMAGE)

fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10
