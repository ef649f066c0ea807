#!/bin/sh
# Fuzzes every target (or the ones named) for SECONDS each with cargo-fuzz
# (libFuzzer + AddressSanitizer/LeakSanitizer). See fuzz/README.md.
#
#   fuzz/run.sh            # CI size: 20 s per target, about 2 min in all
#   fuzz/run.sh 3600       # the long run: an hour per target
#   fuzz/run.sh 60 targs   # one target
#
# Needs `cargo install cargo-fuzz`. cargo-fuzz passes -Z flags to rustc;
# RUSTC_BOOTSTRAP=1 lets a stable toolchain accept them (a nightly one
# does anyway). Exits 1 if any target found a crash; the input is in
# fuzz/artifacts/<target>/.
set -u
cd "$(dirname "$0")" || exit 2
SECONDS_EACH=${1:-20}
[ $# -gt 0 ] && shift
TARGETS=${*:-targs hub_call frame compact proto_decode config}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "fuzz/run.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
	exit 2
fi
cargo fuzz build || exit 2

failed=""
for t in $TARGETS; do
	mkdir -p "corpus/$t"
	extra=""
	[ -d "regressions/$t" ] && extra="regressions/$t"
	echo "=== $t: ${SECONDS_EACH} s"
	# First directory: the corpus new inputs go to; the others are read only.
	# shellcheck disable=SC2086
	if ! cargo fuzz run "$t" "corpus/$t" "seeds/$t" $extra -- \
		-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 \
		-print_final_stats=1 2>"corpus/$t.log"; then
		failed="$failed $t"
		tail -n 60 "corpus/$t.log"
	fi
	grep -E "stat::(number_of_executed_units|peak_rss_mb)" "corpus/$t.log" || true
done
if [ -n "$failed" ]; then
	echo "fuzz/run.sh: crashes in:$failed (inputs in fuzz/artifacts/)" >&2
	exit 1
fi
echo "fuzz/run.sh: no crash in $TARGETS"
