#!/bin/bash
# benign.sh SECONDS - what a server does, for SECONDS, inside the test guest:
# nothing in it is an attack, so argus should raise no alert on it but
# "File Descriptor File Content Change" (every writable close).
#
#   exec storms      scripts running hundreds of short commands (ls, cat, grep,
#                    sed, sort, wc, ...) in loops, and a "cron job" script
#   web server       busybox httpd on :8080 (IPv4 and IPv6), all along
#   echo service     socat on [::1]:8081 (IPv6 only), one child per connection
#   clients          short HTTP and echo connections over 127.0.0.1 and ::1
#   restarts         a one-shot listener re-opened on :8090 after each client,
#                    and a service on :8091 stopped and started every 20 s
#   idle timeouts    a server on :8092 that drops idle clients after 2 s: the
#                    client lingers in CLOSE_WAIT (state changes)
#   limits           60 threads (the threads program), 400 fds in one bash,
#                    file mappings (the memory program)
#   interactive bash `bash -i` fed commands through a FIFO, a new session a minute;
#                    eval, source and exec bash among them
#   files            a log written, closed and rotated; reports and archives
#   containers       crun busybox containers started and stopped
#   kernel module    a stock module (dummy.ko, put in $W by the caller) loaded,
#                    used (a dummy0 interface) and unloaded
#   zombies          a child left unreaped for a few seconds
#
# Each part loops until the deadline; the counts of what each did are in
# $W/count.PART; $W/done is written at the end.  The caller runs it in its own
# session (argus-ctl SPAWN), so killing the group stops everything.
# The web server's files, the container bundle and the module are set up by
# `benign.sh setup` (run first, in the foreground).
set -u
W=/tmp/benign
BUNDLE=/benign-bundle
PATH=/bin:/sbin:/usr/bin:/usr/sbin

if [ "${1:-}" = setup ]; then
	rm -rf "$W" && mkdir -p "$W/www/data" "$W/logs" || exit 1
	echo '<html><body>argus benign workload</body></html>' >"$W/www/index.html"
	head -c 65536 /dev/urandom >"$W/www/data/blob.bin"
	seq 1 5000 >"$W/www/data/numbers.txt"
	if command -v crun >/dev/null; then
		# CONTAINERS_OPTIONAL=1 (another kernel, where crun may not run:
		# 5.10 refuses its re-exec through a memfd): no bundle, and the
		# containers part says "skipped"
		mkdir -p "$BUNDLE/rootfs/bin" && cp /bin/busybox "$BUNDLE/rootfs/bin/" &&
			for a in sh sleep ls cat; do ln -sf busybox "$BUNDLE/rootfs/bin/$a"; done &&
			(cd "$BUNDLE" && rm -f config.json && crun spec &&
			sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"sh", "-c", "ls \/ >\/dev\/null; sleep 5"/' \
				config.json) ||
			{ [ "${CONTAINERS_OPTIONAL:-}" = 1 ] && rm -rf "$BUNDLE"; } || exit 1
	fi
	exit 0
fi

secs=${1:-180}
end=$((EPOCHSECONDS + secs))
alive() { ((EPOCHSECONDS < end)); }
count() { echo "$2" >"$W/count.$1"; }
rm -f "$W/done" "$W"/count.*

exec_storm() {
	local n=0 i f
	while alive; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			ls -l /bin >/dev/null
			cat /etc/passwd | grep root | sed 's/root/admin/' | sort | uniq >/dev/null
			f=$(ls /proc | grep -c '^[0-9]')
			echo "$f processes" | tr a-z A-Z | wc -c >/dev/null
			n=$((n + 9))
		done
		sleep 0.5
	done
	count exec_storm "$n"
}

cron_job() {	# a script file run every few seconds, as cron would
	local n=0
	cat >"$W/job.sh" <<'EOF'
#!/bin/bash
for f in /etc/*; do wc -c "$f" 2>/dev/null; done | sort -n | tail -n 5 >/tmp/benign/report.txt
date >>/tmp/benign/report.txt
df /tmp | tail -n 1 | awk '{print $5}' >>/tmp/benign/report.txt
EOF
	chmod +x "$W/job.sh"
	while alive; do
		"$W/job.sh"
		n=$((n + 1))
		sleep 3
	done
	count cron_job "$n"
}

web_clients() {
	local n=0
	while alive; do
		wget -q -T 5 -O /dev/null http://127.0.0.1:8080/index.html && n=$((n + 1))
		wget -q -T 5 -O /dev/null 'http://[::1]:8080/data/numbers.txt' && n=$((n + 1))
		wget -q -T 5 -O /dev/null http://127.0.0.1:8080/data/blob.bin && n=$((n + 1))
		echo "ping $n" | socat -t1 - 'TCP6:[::1]:8081' >/dev/null && n=$((n + 1))
		sleep 0.3
	done
	count web_clients "$n"
}

one_shot_listener() {	# a listener closed after each client and re-opened on the same port
	local n=0 srv
	while alive; do
		socat -T5 TCP4-LISTEN:8090,reuseaddr OPEN:/dev/null &
		srv=$!
		sleep 0.5
		echo "request $n" | socat -t1 - TCP4:127.0.0.1:8090 && n=$((n + 1))
		sleep 0.5
		kill "$srv" 2>/dev/null	# still waiting when the client came too early
		wait "$srv"
		sleep 1
	done
	count one_shot_listener "$n"
}

restarted_service() {	# a service stopped and started again every 20 s
	local n=0 srv
	while alive; do
		socat TCP-LISTEN:8091,reuseaddr,fork OPEN:/dev/null &
		srv=$!
		n=$((n + 1))
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			alive || break
			sleep 1
			echo "hello" | socat -t1 - TCP:127.0.0.1:8091
			sleep 1
		done
		kill "$srv"
		wait "$srv"
	done
	count restarted_service "$n"
}

idle_timeouts() {	# the server closes first; the client notices 3 s later
	local n=0 srv
	socat TCP-LISTEN:8092,reuseaddr,fork EXEC:'sleep 2' &
	srv=$!
	sleep 0.5
	while alive; do
		sleep 6 | socat -t3 - TCP:127.0.0.1:8092 && n=$((n + 1))
		sleep 1
	done
	kill "$srv"
	wait "$srv"
	count idle_timeouts "$n"
}

limits() {	# many threads, many fds, file mappings
	local n=0
	while alive; do
		threads 60 8 &
		bash -c 'for i in $(seq 400); do exec {fd}</etc/passwd; done; sleep 10' &
		memory file 3 &
		wait
		n=$((n + 1))
	done
	count limits "$n"
}

interactive() {	# a user at a bash prompt, a new session every minute
	local n=0 holder sh cmds i=0
	cmds=("cd /tmp" "ls -la" "cat /etc/hostname" "ps" "uptime" "echo \$((RANDOM % 10))"
	      "df -h" "grep root /etc/passwd" "for i in 1 2 3; do echo \$i; done" "free -m"
	      "history | tail -n 3" "export EDITOR=vi" "cd" "pwd" "top -b -n 1 | head -n 5"
	      "ls /tmp/benign/logs" "wc -l /tmp/benign/logs/app.log" "date"
	      "eval 'sleep 3'" ". $W/slow.sh" "exec bash -i")
	echo "sleep 3" >"$W/slow.sh"	# bash keeps no history while it sources
	while alive; do
		rm -f "$W/tty" && mkfifo "$W/tty"
		bash -i <"$W/tty" >/dev/null 2>&1 &
		sh=$!
		sleep 1000 >"$W/tty" &
		holder=$!
		for _ in $(seq 25); do
			alive && kill -0 "$sh" 2>/dev/null || break	# a FIFO without reader blocks
			echo "${cmds[i % ${#cmds[@]}]}" >"$W/tty"
			i=$((i + 1))
			n=$((n + 1))
			sleep 2
		done
		kill -0 "$sh" 2>/dev/null && echo exit >"$W/tty"
		sleep 1
		kill "$sh" 2>/dev/null
		kill "$holder" 2>/dev/null
		wait "$sh" "$holder" 2>/dev/null
	done
	count interactive "$n"
}

files() {	# an application log written, closed and rotated; state files rewritten
	local n=0 j
	while alive; do
		exec 3>>"$W/logs/app.log"
		for j in 1 2 3 4 5 6 7 8 9 10; do
			echo "$(date) request $j served" >&3
			sleep 0.5
		done
		exec 3>&-
		echo "{\"requests\": $n}" >"$W/state.json"
		if [ "$((n % 3))" = 2 ]; then
			mv "$W/logs/app.log" "$W/logs/app.log.1"
			gzip -f "$W/logs/app.log.1"
			tar -cf "$W/backup.tar" /etc 2>/dev/null
		fi
		n=$((n + 1))
	done
	count files "$n"
}

containers() {
	local n=0 id
	[ -f "$BUNDLE/config.json" ] || { count containers skipped; return; }
	while alive; do
		id=$(printf 'be9%061x' "$n")
		if (cd "$BUNDLE" && crun --cgroup-manager=cgroupfs run --no-pivot -d --bundle "$BUNDLE" "$id"); then
			n=$((n + 1))
			sleep 4
			# every other one is stopped before its command ends
			[ $((n % 2)) = 0 ] && crun kill "$id" TERM 2>/dev/null
			sleep 4
		fi
		crun delete -f "$id" 2>/dev/null
		sleep 1
	done
	count containers "$n"
}

module() {	# a stock module loaded, used and unloaded
	local n=0
	[ -f "$W/dummy.ko" ] || { count module skipped; return; }
	while alive; do
		if insmod "$W/dummy.ko"; then
			ip link add bn0 type dummy && ip link set bn0 up &&
				ip addr add 198.51.100.1/24 dev bn0
			sleep 5
			ip link del bn0
			rmmod dummy && n=$((n + 1))
		fi
		sleep 10
	done
	count module "$n"
}

bpf() {	# a benign BPF program (a socket filter) loaded, held and let go of
	local n=0
	command -v bpfload >/dev/null || { count bpf skipped; return; }
	while alive; do
		bpfload filter benign_flt 5 >/dev/null && n=$((n + 1))
		sleep 5
	done
	count bpf "$n"
}

zombies() {	# a parent that reaps its child late
	local n=0
	while alive; do
		bash -c 'sleep 0.1 & exec sleep 3'
		n=$((n + 1))
		sleep 5
	done
	count zombies "$n"
}

cd "$W" || exit 1
httpd -f -p 8080 -h "$W/www" &
web=$!
socat TCP6-LISTEN:8081,ipv6only=1,reuseaddr,fork EXEC:cat &
echo6=$!
sleep 1
parts=(exec_storm cron_job web_clients one_shot_listener restarted_service idle_timeouts limits
       interactive files containers module bpf zombies)
pids=()
for p in "${parts[@]}"; do
	"$p" &
	pids+=($!)
done
wait "${pids[@]}"
kill "$web" "$echo6"
wait "$web" "$echo6" 2>/dev/null
touch "$W/done"
