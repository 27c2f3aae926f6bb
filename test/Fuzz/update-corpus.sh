#!/usr/bin/env bash
# Regenerates test/Fuzz/corpus/, the seed corpus of scripts/fuzz.sh: every
# examples/*.phys and every test/**/*.phys, deduplicated by content (the
# first path in sorted order names each file: test/Frontend/let-self.phys
# becomes Frontend-let-self.phys).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test/Fuzz/corpus
rm -rf "$out"
mkdir -p "$out"
declare -A seen
while IFS= read -r f; do
  sum=$(sha1sum "$f" | cut -d' ' -f1)
  [ -n "${seen[$sum]:-}" ] && continue
  seen[$sum]=1
  name=${f#test/}
  cp "$f" "$out/${name//\//-}"
done < <(find examples test -name '*.phys' -not -path "$out/*" | LC_ALL=C sort)
echo "update-corpus: $(ls "$out" | wc -l) files in $out"
