#!/usr/bin/env bash
# Runs every fuzz target for $1 seconds from its corpus (fuzz/seed.sh), then prints the
# executions of each (libFuzzer's final "#N DONE ... exec/s: R" line). Extra arguments
# go to libFuzzer. Fails on the first target that finds a crash (see fuzz/artifacts/).
# The targets are the [[bin]]s of fuzz/Cargo.toml, as `cargo fuzz list` reports them.
set -eu -o pipefail
cd "$(dirname "$0")"
secs=$1
shift
targets=$(cargo fuzz list)
if [ -z "$targets" ]; then
	echo "!!! cargo fuzz list found no fuzz target !!!"
	exit 1
fi
mkdir -p target
for t in $targets; do
	echo "== fuzz $t (${secs} s)"
	if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" "$@" \
		>"target/fuzz-$t.log" 2>&1; then
		tail -60 "target/fuzz-$t.log"
		echo "!!! fuzz target $t failed; the input is in fuzz/artifacts/$t/ !!!"
		exit 1
	fi
done
echo "== executions per target (${secs} s each)"
for t in $targets; do
	line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "target/fuzz-$t.log" | tail -1 || true)
	execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$line")
	rate=$(sed -E 's/.*exec\/s: ([0-9]+).*/\1/' <<<"$line")
	cov=$(sed -E 's/.*cov: ([0-9]+).*/\1/' <<<"$line")
	printf '%-16s %10s execs %8s exec/s  cov %s\n' "$t" "$execs" "$rate" "$cov"
done
