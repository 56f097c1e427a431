/* activity.h - every activity of the spec's section 10, in one table.
 *
 * One row per alert, event and system activity: its message type,
 * severity and name exactly as the spec writes them, the configuration key
 * under `collection:` that switches it (NULL for system activities, which
 * are always on), and whether it is on by default.  The config parser, the
 * rules and the message builder all read this table; nothing else spells
 * an activity's name.
 */
#ifndef ARGUS_ACTIVITY_H
#define ARGUS_ACTIVITY_H

#include <stddef.h>

enum msg_type { MSG_EVENT, MSG_ALERT, MSG_SYSTEM_ACTIVITY };
enum severity { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_WARNING, SEV_HIGH, SEV_ERROR, SEV_CRITICAL };

#define ACTIVITIES(X) \
	/* 10.1 processes */ \
	X(PROCESS_CREATED, EVENT, INFO, "Process Created", "process_created", 1) \
	X(PROCESS_TERMINATED, EVENT, INFO, "Process Terminated", "process_terminated", 1) \
	X(PROCESS_ZOMBIE, EVENT, WARNING, "Process Zombie", "process_zombie", 1) \
	X(PROCESS_HIDDEN, ALERT, HIGH, "Process Hidden", "process_hidden", 1) \
	/* 10.2 network */ \
	X(NET_CONN_CREATED, EVENT, INFO, "Network Connection Created", "network_connection_created", 1) \
	X(NET_CONN_TERMINATED, EVENT, INFO, "Network Connection Terminated", "network_connection_terminated", 1) \
	X(TCP_EXCESSIVE_DATA, ALERT, LOW, "TCP Connection Excessive Data", "tcp_connection_excessive_data", 1) \
	X(TCP_LONG_LASTING, ALERT, LOW, "TCP Long-Lasting Connection", "tcp_long_lasting_connection", 1) \
	X(TCP_STATE_CHANGE, EVENT, INFO, "TCP Network Connection State Change", "tcp_network_connection_state_change", 1) \
	X(TCP_CONN_STATUS, EVENT, INFO, "TCP Network Connections Status", "tcp_network_connections_status", 0) \
	/* 10.3 reverse shell */ \
	X(REVERSE_SHELL, ALERT, HIGH, "Reverse Shell Detected", "reverse_shell_detected", 1) \
	/* 10.4 SBOM / attestation */ \
	X(FOREIGN_BINARY, ALERT, HIGH, "Foreign Binary Executed", "foreign_binary_executed", 1) \
	X(BINARY_NOT_AS_INTENDED, ALERT, HIGH, "Binary Executed Not as Intended", "binary_executed_not_as_intended", 1) \
	X(FOREIGN_BINARY_SIZE, ALERT, HIGH, "Foreign Binary Executed \xe2\x80\x93 File Size Mismatch", "foreign_binary_executed_file_size_mismatch", 1) \
	X(FOREIGN_LIBRARY, ALERT, HIGH, "Foreign Library Loaded", "foreign_library_loaded", 1) \
	X(FOREIGN_LIBRARY_SIZE, ALERT, HIGH, "Foreign Library Loaded \xe2\x80\x93 File Size Mismatch", "foreign_library_loaded_file_size_mismatch", 1) \
	/* 10.5 process memory */ \
	X(MEMORY_CREATED, EVENT, INFO, "Process Memory Created", "process_memory_created", 0) \
	X(MEMORY_TERMINATED, EVENT, INFO, "Process Memory Terminated", "process_memory_terminated", 0) \
	X(EXEC_ANON_MAPPED, EVENT, WARNING, "New Executable Anonymous Memory Mapped", "new_executable_anonymous_memory_mapped", 1) \
	X(EXEC_PERM_ADDED, ALERT, MEDIUM, "Executable Permissions Added", "executable_permissions_added", 1) \
	X(EXEC_PERM_REMOVED, ALERT, MEDIUM, "Executable Permissions Removed", "executable_permissions_removed", 1) \
	X(FILE_MAPPED, EVENT, INFO, "New File Mapped", "new_file_mapped", 1) \
	X(FILE_UNMAPPED, EVENT, INFO, "File Unmapped", "file_unmapped", 1) \
	/* 10.6 file descriptors */ \
	X(FD_OPEN, EVENT, INFO, "File Descriptor Open", "file_descriptor_open", 1) \
	X(FD_CLOSE, EVENT, INFO, "File Descriptor Close", "file_descriptor_close", 1) \
	X(FD_CONTENT_CHANGE, ALERT, MEDIUM, "File Descriptor File Content Change", "file_descriptor_file_content_change", 1) \
	/* 10.7 threads */ \
	X(THREAD_CREATED, EVENT, INFO, "Thread Created", "thread_created", 1) \
	X(THREAD_TERMINATED, EVENT, INFO, "Thread Terminated", "thread_terminated", 1) \
	/* 10.8 containers */ \
	X(CONTAINER_STARTED, EVENT, INFO, "Container Started", "container_started", 1) \
	X(CONTAINER_TERMINATED, EVENT, INFO, "Container Terminated", "container_terminated", 1) \
	/* 10.9 shell history */ \
	X(SHELL_COMMAND, EVENT, INFO, "Shell Command Executed", "shell_command_executed", 1) \
	X(SHELL_HISTORY_CLEARED, ALERT, HIGH, "Shell History Cleared", "shell_history_cleared", 1) \
	X(SHELL_HISTORY_DISABLED, ALERT, HIGH, "Shell History Disabled", "shell_history_disabled", 1) \
	/* kernel modules (issue 14) */ \
	X(KMOD_LOADED, EVENT, INFO, "Kernel Module Loaded", "kernel_module_loaded", 1) \
	X(KMOD_UNLOADED, EVENT, INFO, "Kernel Module Unloaded", "kernel_module_unloaded", 1) \
	X(KMOD_HIDDEN, ALERT, HIGH, "Kernel Module Hidden", "kernel_module_hidden", 1) \
	/* BPF programs (issue 14) */ \
	X(BPF_LOADED, EVENT, INFO, "BPF Program Loaded", "bpf_program_loaded", 1) \
	X(BPF_UNLOADED, EVENT, INFO, "BPF Program Unloaded", "bpf_program_unloaded", 1) \
	X(BPF_TAMPERING, ALERT, HIGH, "BPF Program Tampering Helper", "bpf_program_tampering_helper", 1) \
	X(SYSCALL_DISPATCH_MODIFIED, ALERT, CRITICAL, "System Call Dispatch Modified", "system_call_dispatch_modified", 1) \
	X(KFUNC_HOOKED, ALERT, HIGH, "Kernel Function Hooked", "kernel_function_hooked", 1) \
	X(KTEXT_MODIFIED, ALERT, CRITICAL, "Kernel Text Modified", "kernel_text_modified", 1) \
	/* 10.10 system activities */ \
	X(SVC_INIT_STARTED, SYSTEM_ACTIVITY, INFO, "Service Initialization Started", NULL, 1) \
	X(SVC_INIT_OK, SYSTEM_ACTIVITY, INFO, "Service Initialization Successful", NULL, 1) \
	X(SVC_INIT_FAILED, SYSTEM_ACTIVITY, ERROR, "Service Initialization Failed", NULL, 1) \
	X(SVC_RUNTIME_FAILURE, SYSTEM_ACTIVITY, ERROR, "Service Runtime Failure", NULL, 1) \
	X(SVC_SHUTDOWN, SYSTEM_ACTIVITY, INFO, "Service Gracefully Shutdown", NULL, 1) \
	X(DETAILS_FAILED, SYSTEM_ACTIVITY, ERROR, "Details Gathering Failed", NULL, 1) \
	X(HOST_INIT_STARTED, SYSTEM_ACTIVITY, INFO, "Host Initialization Started", NULL, 1) \
	X(HOST_INIT_OK, SYSTEM_ACTIVITY, INFO, "Host Initialization Successful", NULL, 1) \
	X(HOST_INIT_FAILED, SYSTEM_ACTIVITY, ERROR, "Host Initialization Failed", NULL, 1) \
	X(OS_FOUND, SYSTEM_ACTIVITY, INFO, "OS Identifier Found", NULL, 1) \
	X(OS_DISCOVERY_EXTENDED, SYSTEM_ACTIVITY, INFO, "OS Identifier Discovery Extended", NULL, 1) \
	X(PROFILE_CANDIDATE, SYSTEM_ACTIVITY, INFO, "Loading Profile Candidate", NULL, 1) \
	X(PROFILE_OK, SYSTEM_ACTIVITY, INFO, "Profile Verification Successful", NULL, 1) \
	X(PROFILE_VERIFY_FAILED, SYSTEM_ACTIVITY, ERROR, "Profile Verification Failed", NULL, 1) \
	X(PROFILE_PARSE_FAILED, SYSTEM_ACTIVITY, ERROR, "Profile Parsing Failed", NULL, 1) \
	X(NO_PROFILE, SYSTEM_ACTIVITY, ERROR, "No Matching Profile Found", NULL, 1) \
	X(NO_OS, SYSTEM_ACTIVITY, ERROR, "Unable to Determine Target OS", NULL, 1) \
	X(LIMIT_PROCESSES, SYSTEM_ACTIVITY, MEDIUM, "Process Limit Reached", NULL, 1) \
	X(LIMIT_FDS, SYSTEM_ACTIVITY, MEDIUM, "File Handles Limit Reached", NULL, 1) \
	X(LIMIT_VMAS, SYSTEM_ACTIVITY, MEDIUM, "Process Memory Limit Reached", NULL, 1) \
	X(LIMIT_THREADS, SYSTEM_ACTIVITY, MEDIUM, "Threads Limit Reached", NULL, 1)

#define ACT_ENUM(id, type, sev, name, key, def) ACT_##id,
enum activity_id { ACTIVITIES(ACT_ENUM) ACT_COUNT };
#undef ACT_ENUM

struct activity {
	enum activity_id id;
	enum msg_type type;
	enum severity severity;
	const char *name;	/* as the spec writes it */
	const char *key;	/* collection: key, NULL for system activities */
	int default_on;
};

extern const struct activity activities[ACT_COUNT];

const struct activity *activity_by_key(const char *key);
const char *msg_type_str(enum msg_type t);
const char *severity_str(enum severity s);

#endif
