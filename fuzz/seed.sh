#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the golden share files (fuzz/corpus is git-ignored), for
# every target `cargo fuzz list` reports. A target without a rule below gets the golden files
# as they are: its input is arbitrary bytes, and real containers reach deeper than noise.
set -eu
cd "$(dirname "$0")"
golden=../core/tests/golden
targets=$(cargo fuzz list)
if [ -z "$targets" ]; then
	echo "!!! cargo fuzz list found no fuzz target !!!"
	exit 1
fi
for t in $targets; do
	mkdir -p corpus/"$t"
	case $t in
	lease_records)
		# A flag byte (bit 0: hashed) followed by the bytes at each record's start.
		for f in "$golden"/*.bin; do
			b=$(basename "$f" .bin)
			size=$(stat -c %s "$f")
			for off in 12 100 468 $((size > 72 ? size - 72 : 0)) $((size > 96 ? size - 96 : 0)); do
				{ printf '\x00'; tail -c +$((off + 1)) "$f" | head -c 92; } > corpus/"$t"/"$b-$off" || true
				{ printf '\x01'; tail -c +$((off + 1)) "$f" | head -c 92; } > corpus/"$t"/"$b-$off-h" || true
			done
		done
		;;
	*)
		# Both parsers get every golden file (each kind is hostile input for the other); the
		# structured targets read the same bytes as arbitrary input.
		for f in "$golden"/*.bin; do cp "$f" corpus/"$t"/"$(basename "$f" .bin)"; done
		;;
	esac
done
