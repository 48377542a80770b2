#!/usr/bin/env bash
# The end of `just test`: the tests that could not run (listed in SKIPS by
# tests/support/reftool.rs, one `test<TAB>why` line each), then one line
#   N passed, N failed, N skipped
# summed over every `test result:` line of the harnesses in OUTPUT. A
# skipped test returned early, so its harness counted it as passed: it is
# moved from passed to skipped. Usage: tests/test-summary.sh OUTPUT SKIPS
set -euo pipefail
output=$1
skips=$2
read -r passed failed < <(
    sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed;.*/\1 \2/p' "$output" |
        awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }'
)
skipped=0
if [ -s "$skips" ]; then
    echo
    # A test that skipped twice (e.g. node and npm both missing) counts once.
    awk -F'\t' '!seen[$1]++ { print "SKIPPED: " $1 ": " $2 }' "$skips"
    skipped=$(awk -F'\t' '!seen[$1]++' "$skips" | wc -l)
fi
echo
echo "$((passed - skipped)) passed, $failed failed, $skipped skipped"
