# Sourced by the results scripts: helpers that read the JSON hessq writes and check the inputs.

# The first "key": value in a pretty-printed JSON file (the files read have unique leading keys;
# "all" sorts first in "summary", so its means come first).
field() { grep -m1 "\"$1\":" "$2" | sed 's/.*": *//; s/,$//'; }

# require SCRIPT FILE...: exit naming the first input that does not exist.
require() {
  local script=$1; shift
  for f in "$@"; do
    [ -e "$f" ] || { echo "$script: $f not found" >&2; exit 1; }
  done
}

# log MESSAGE: progress on stderr, prefixed with the script's name.
log() { echo "$(basename "$0" .sh): $*" >&2; }

# size FILE: its bytes.
size() { stat -c %s "$1"; }
