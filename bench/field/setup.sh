#!/usr/bin/env bash
# Sets up one field-corpus target from a checkout of its upstream project:
#   bench/field/setup.sh NAME SOURCE
# SOURCE is a git work tree or a bare git directory holding the pinned commit. The commit is
# exported (not cloned) into $MB_FIELD_DIR/NAME/src, then the target's `prepare` installs its
# dependencies there. Nothing is written into this repository.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || { echo "usage: bench/field/setup.sh NAME SOURCE   (NAME: $(field_names | tr '\n' ' '))" >&2; exit 2; }
name="$1" source="$2"
load_target "$name"
git -C "$source" cat-file -e "$COMMIT^{commit}" 2>/dev/null \
    || { say "$source does not hold $UPSTREAM at $COMMIT"; exit 2; }

ensure_user
rm -rf "$dir"
mkdir -p "$src"
git -C "$source" archive --format=tar "$COMMIT" | tar -x -C "$src"
say "$UPSTREAM at ${COMMIT:0:12} exported into $src"
prepare
give_dir "$dir"
echo "$COMMIT" >"$dir/.ready"
say "$name is set up"
