#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the golden share files (fuzz/corpus is git-ignored).
set -eu
cd "$(dirname "$0")"
golden=../core/tests/golden
for t in parse_immutable parse_mutable lease_records container_ops server_ops request_decode; do
	mkdir -p corpus/"$t"
done
# Both parsers get every golden file (each kind is hostile input for the other).
cp "$golden"/*.bin corpus/parse_immutable/
cp "$golden"/*.bin corpus/parse_mutable/
# Lease records: a flag byte (bit 0: hashed) followed by the bytes at each record's start.
for f in "$golden"/*.bin; do
	b=$(basename "$f" .bin)
	size=$(stat -c %s "$f")
	for off in 12 100 468 $((size > 72 ? size - 72 : 0)) $((size > 96 ? size - 96 : 0)); do
		{ printf '\x00'; tail -c +$((off + 1)) "$f" | head -c 92; } > corpus/lease_records/"$b-$off" || true
		{ printf '\x01'; tail -c +$((off + 1)) "$f" | head -c 92; } > corpus/lease_records/"$b-$off-h" || true
	done
	# The structured targets read the same bytes as arbitrary input.
	for t in container_ops server_ops request_decode; do cp "$f" corpus/"$t"/"$b"; done
done
