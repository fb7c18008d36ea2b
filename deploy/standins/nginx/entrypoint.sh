#!/bin/sh
# The official nginx image's template step: every /etc/nginx/templates/*.template is rendered into
# /etc/nginx/conf.d/ with envsubst, substituting only the variables whose names match NGINX_ENVSUBST_FILTER.
set -eu
filter=${NGINX_ENVSUBST_FILTER:-.*}
names=$(env | cut -d= -f1 | grep -E -- "$filter" || true)
defined=""
for name in $names; do defined="$defined \${$name}"; done
for template in /etc/nginx/templates/*.template; do
  [ -f "$template" ] || continue
  output=/etc/nginx/conf.d/$(basename "$template" .template)
  envsubst "$defined" <"$template" >"$output"
  echo "$0: rendered $template to $output"
done
exec "$@"
