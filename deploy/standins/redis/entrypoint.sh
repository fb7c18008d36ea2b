#!/bin/sh
# Like the official redis image: a command that starts with an option is given to redis-server; redis-server runs
# as the redis user without protected mode (with no config file it would refuse every client from another
# container).
set -eu
if [ "${1#-}" != "${1:-}" ]; then set -- redis-server "$@"; fi
if [ "${1:-}" = redis-server ]; then
  shift
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server --protected-mode no "$@"
fi
exec "$@"
