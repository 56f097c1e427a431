# apt-arm64.sh - sourced by fetch-arm64.sh and kmod/build-arm64.sh: a private
# apt configuration for Debian 12 (bookworm) arm64 in $CACHE/apt-bookworm-arm64,
# so the machine's own dpkg/apt state is untouched.  Sets apt_dir and the
# array opts (pass "${opts[@]}" to apt-get and apt-cache); apt_arm64_update
# fetches the package lists (once, then weekly; old lists do without a
# network).  Needs CACHE set and a function die.
apt_dir="$CACHE/apt-bookworm-arm64"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
cat >"$apt_dir/sources.list" <<SRC
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
SRC
[ -f "$apt_dir/status" ] || : >"$apt_dir/status"
opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
      -o Dir::Cache::Archives="$apt_dir/archives"
      -o Dir::Cache::pkgcache="$apt_dir/pkgcache.bin" -o Dir::Cache::srcpkgcache="$apt_dir/srcpkgcache.bin"
      -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Debug::NoLocking=1)

apt_arm64_update() {
	if [ ! -f "$apt_dir/.updated" ]; then
		apt-get "${opts[@]}" update -qq >/dev/null 2>&1 || die "apt-get update for bookworm arm64 failed"
		touch "$apt_dir/.updated"
	elif [ -n "$(find "$apt_dir/.updated" -mtime +7)" ]; then
		# a week old: refresh, but lists that are there still do without a network
		if apt-get "${opts[@]}" update -qq >/dev/null 2>&1; then
			touch "$apt_dir/.updated"
		else
			echo "apt-arm64.sh: apt-get update failed; using the package lists of $(date -r "$apt_dir/.updated" +%F)" >&2
		fi
	fi
}
