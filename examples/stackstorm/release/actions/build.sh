#!/bin/sh
# Usage: build.sh TAG [--target=NAME]
tag="$1"
target="linux"
for arg in "$@"; do
  case "$arg" in
    --target=*) target="${arg#--target=}" ;;
  esac
done
echo "demo-${tag}-${target}.tar.gz"
