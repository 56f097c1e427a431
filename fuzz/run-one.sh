#!/bin/sh
# run-one.sh NAME SECONDS IMAGE - one libFuzzer harness for SECONDS on its
# corpora (make fuzz runs several at once, one per core): prints its last
# line, or its first error and exits 1.
f=$1 secs=$2 image=$3
mkdir -p "build-fuzz/corpus/$f"
if ARGUS_FUZZ_IMAGE="$image" UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"build-fuzz/fuzz/fuzz_$f" \
	-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="build-fuzz/fuzz_$f-" "build-fuzz/corpus/$f" "fuzz/corpus/$f" \
	>"build-fuzz/fuzz_$f.log" 2>&1; then
	echo "fuzz_$f: $(tail -n1 "build-fuzz/fuzz_$f.log")"
else
	echo "fuzz_$f FAILED (build-fuzz/fuzz_$f.log):"
	grep -A20 -m1 'ERROR\|runtime error\|fuzz_scan:' "build-fuzz/fuzz_$f.log"
	exit 1
fi
