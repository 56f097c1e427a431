#!/usr/bin/env bash
# fetch-rsyslog.sh - Debian's rsyslog and rsyslog-relp, unpacked into the
# cache (not installed: rsyslog conflicts with syslog-ng-core, which the
# other telemetry tests use).  Prints the directory holding usr/sbin/rsyslogd.
set -euo pipefail
CACHE=${ARGUS_CACHE:-$HOME/.cache/argus}
dir="$CACHE/rsyslog"
if [ ! -f "$dir/.done" ]; then
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	( cd "$tmp" && { apt-get download rsyslog rsyslog-relp >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get download rsyslog rsyslog-relp >/dev/null; }; } ) ||
		{ echo "fetch-rsyslog.sh: cannot download rsyslog with apt-get" >&2; exit 1; }
	rm -rf "$dir/root"
	mkdir -p "$dir/root"
	for d in "$tmp"/*.deb; do dpkg -x "$d" "$dir/root"; done
	touch "$dir/.done"
fi
echo "$dir/root"
