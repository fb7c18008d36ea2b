#!/bin/bash
# Like the official Elasticsearch image: every environment variable whose name is a dotted lower-case setting
# (discovery.type, xpack.security.enabled, ...) becomes an -E option; ES_JAVA_OPTS is read by Elasticsearch itself.
# bash, not sh: dash drops variables whose names are not shell identifiers from its environment.
set -euo pipefail
if [ "${1:-}" != eswrapper ]; then exec "$@"; fi
shift
while IFS= read -r setting; do
  set -- "$@" "-E$setting"
done < <(env | grep -E '^[a-z0-9_]+\.[a-z0-9_.]+=' || true)
exec /usr/share/elasticsearch/bin/elasticsearch "$@"
