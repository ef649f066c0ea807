/*
 * hubsim: a Verlihub hub simulator that loads a libvh_python_wrapper.so (the original or the
 * vh-runner shim) and drives it exactly as the hub's python_pi plugin does
 * (docs/abi.md; section numbers below refer to it).
 *
 * Model
 *   - One simulated hub per process (all state is global). Not thread-safe: call every
 *     function from one thread, the "hub thread"; the wrapper's callbacks run on it too.
 *   - All strings are NUL-terminated raw bytes in the hub encoding (never converted), as in
 *     the hub. NULL is accepted where the hub could pass "no value" and noted below.
 *   - Everything the hub would send because of a script is appended to an in-memory list of
 *     records, one line each (see README.md, "Records"). Hook calls are recorded too.
 *   - Pointers passed in are borrowed for the duration of the call only; hubsim copies what
 *     it keeps. Pointers returned stay owned by hubsim (never free them).
 *
 * Return conventions: functions returning int use -1 for "could not run" (not open, bad
 * argument; message in hubsim_last_error()), except where stated otherwise.
 */
#ifndef VH_HUBSIM_H
#define VH_HUBSIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- lifecycle ------------------------------------------------------------------------ */

/*
 * Loads the wrapper and brings the simulated plugin online, as cpiPython::OnLoad (§1.1, §1.2,
 * §3.2): dlopen(shim_path, RTLD_LAZY | RTLD_GLOBAL); dlsym the 12 (A) or 13 (B: plus
 * w_CallFunction) symbols of §1.2, and under B w_free_args (§1.3), all of which must resolve;
 * build the 100-entry calloc'ed callback table of the generation (§6.1: A fills 0..55 except
 * 42..44, B fills 0..56 except 43..45 and has GetIPCity at 22); call w_Begin(table) (0 is a
 * failure); then w_LogLevel(level) with level = $HUBSIM_LOG_LEVEL (default 1).
 *
 * The callbacks in the table are the exported `_<Name>` functions of the plugin face
 * libhubsim_plugin_<a|b>.so (see README.md), loaded with RTLD_GLOBAL after the wrapper;
 * under B that load fails, like the B plugin would, if the wrapper lacks w_free_args or
 * stringListToJson. $HUBSIM_FACE_DIR overrides where the faces are looked for;
 * $HUBSIM_NO_FACE=1 (or a missing face file, with a warning) puts hubsim's own functions into
 * the table instead.
 *
 * shim_path: path of the wrapper .so. generation: 'A' (python_pi 1.6.0.0) or 'B' (PR 214).
 * Returns 0 on success, -1 on error (already open, dlopen/dlsym failure, w_Begin returned 0).
 * The hub start time (w_Load's 6th argument) and the simulated clock start at time(NULL).
 */
int hubsim_open(const char *shim_path, char generation);

/*
 * Calls of hub callback `name` (e.g. "GetConfig") through the plugin face since hubsim_open,
 * whoever made them; -1 for an unknown name or without a face.
 */
long hubsim_callback_calls(const char *name);

/* Message of the last error, "" if none. Owned by hubsim, valid until the next call. */
const char *hubsim_last_error(void);

/*
 * Shuts the hub down (§9.4): fires OnUnLoad(0) to all scripts, w_Unload()s every script in
 * load order, w_End(), dlclose()s the wrapper and the plugin face, frees all state
 * (records, users, configuration). Safe to call when not open and to call twice;
 * hubsim_open may be called again afterwards.
 */
void hubsim_close(void);

/*
 * Sets a value in the hub configuration store, read by the GetConfig callback and written by
 * SetConfig. No hook is fired. Setting ("config", "hub_security") or ("config",
 * "opchat_name") renames the hub-security / op-chat bot (the w_Load bot names).
 * May be called before hubsim_open; values survive until hubsim_close.
 * A NULL argument is ignored.
 */
void hubsim_set_config(const char *conf, const char *var, const char *val);

/* ---- scripts -------------------------------------------------------------------------- */

/*
 * Loads a script as cPythonInterpreter::Init (§3.5): id = w_ReserveID();
 * a = w_pack("lssssls", (long)id, script_path, botname, opchatname, config_dir,
 * (long)start_time, config_name); r = w_Load(a); free(a). botname/opchatname default to
 * "Verlihub"/"OpChat", config_dir is $HUBSIM_CONFIG_DIR (default "/tmp"), config_name
 * "config". Returns r (the script id) if r > -1 and appends the script to the call order;
 * else -1.
 */
int hubsim_load(const char *script_path);

/* w_Unload(id) and removal from the call order. Returns 1 if the script was loaded, else 0. */
int hubsim_unload(int id);

/* Number of loaded scripts. */
int hubsim_script_count(void);

/* Id of the index-th script in call (load) order, or -1 if index is out of range. */
int hubsim_script_id(int index);

/* ---- hub events ----------------------------------------------------------------------- */
/*
 * Each event fires the hooks the hub fires for it, through the plugin's dispatch (§4.2): for
 * every loaded script in call order, if w_HasHook(id, hook) then w_CallHook(id, hook, args);
 * every non-NULL result is interpreted in the hook's mode (generic / chat / MyINFO) and
 * released with free() under A and w_free_args() under B; args is built once with the
 * wrapper's w_pack and released with free() after all scripts ran. There is no early stop.
 * Each returns the combined boolean the hub acts on: 1 = allowed, 0 = blocked by a script
 * (or the event could not happen, e.g. unknown user), -1 = not open.
 * Connection closes requested during an event (CloseConnection, KickUser, a rejected login)
 * are recorded at once and carried out (OnUserLogout, OnCloseConn, OnCloseConnEx) when the
 * outermost event returns, like the hub's deferred CloseNice.
 */

/*
 * A user connects and logs in. Fires, stopping at the first refusal:
 * OnNewConn("s": ip); OnParsedMsgValidateNick("s": nick); OnFirstMyINFO and then
 * OnParsedMsgMyINFO ("ssssss": nick, desc, tag, speed, email, share; MyINFO mode, the second
 * sees the first one's substitution); the user enters the list and the hub broadcasts his
 * MyINFO (record MYINFO); OnUserInList("s"); OnUserLogin("s").
 * A refusal by a script records "CLOSE <nick>\tplugin" (a dropped OnParsedMsgMyINFO only
 * leaves the user logged in but not in the list, as the hub does). A nick already online
 * records "CLOSE <nick>\tduplicate", a banned nick or IP "CLOSE <nick>\tbanned"; no hooks.
 * uclass: the user's class (0 guest, 1 reg, 2 VIP, 3 op, 4 cheef, 5 admin, 10 master).
 * speed includes the NMDC status byte if wanted. share: decimal byte count.
 */
int hubsim_login(const char *nick, long uclass, const char *ip, const char *desc,
		 const char *tag, const char *speed, const char *email, const char *share);

/*
 * The user quits: OnUserLogout("s": nick) (if he was in the list), OnCloseConn("s": ip),
 * OnCloseConnEx("sls": ip, 4 = eCR_QUIT, nick); the user is removed. The hub ignores these
 * hooks' results: returns 1 if the user was online, 0 if not.
 */
int hubsim_logout(const char *nick);

/*
 * The user says `text` in main chat (cDCProto::DC_Chat). A command is recognised first, as
 * the hub does before the chat hook: if uclass >= 3 and text starts with a character of
 * config cmd_start_op (default "!"), OnHubCommand("sslls": nick, text+1, class, 0, prefix)
 * then, if that allowed, OnOperatorCommand("ss": nick, text) (preceded by python_pi's own
 * console, §10.1); else if text starts with a character of cmd_start_user (default "+"),
 * OnHubCommand then OnUserCommand("ss"). Commands are never broadcast; the result is the
 * command hooks' combined result. Otherwise OnParsedMsgChat("ss": nick, text; chat mode with
 * substitution) and, if allowed, the broadcast "MC <nick>\t<text>" (substituted values).
 * Returns 0 without hooks if the user is not in the list or is chat-restricted.
 */
int hubsim_chat(const char *nick, const char *text);

/*
 * Private message (cDCProto::DC_To): OnParsedMsgPM("sss": from, text, to); if allowed and
 * `to` is a user, records "PM <to>\t<from>\t<from>\t<text>". To the op-chat bot: if allowed
 * and from is an operator, OnOpChatMessage("ss": from, text) and, if allowed,
 * "OPCHAT <from>\t<text>". To the hub-security bot: a command in the text is executed with
 * in_pm = 1 as in hubsim_chat. Returns 0 without hooks if from is not in the list, is
 * PM-restricted, or `to` is not online.
 */
int hubsim_pm(const char *from, const char *to, const char *text);

/*
 * Main-loop timer tick at wall-clock time now_s (Unix seconds, §9.3): delivers queued
 * ScriptCommands (OnScriptCommand), then OnTimer("d": now_s). Also advances the simulated
 * clock used for bans and restrictions. Returns OnTimer's combined result.
 */
int hubsim_timer(double now_s);

/*
 * Generic hook call, for tests: packs the varargs with the wrapper's w_pack according to fmt
 * ('l' long, 's' const char * (may be NULL), 'd' double, 'p' void *) and dispatches hook
 * index `hook` (0..40; other values are passed through unchanged) in generic mode, or chat
 * mode for 3 and MyINFO mode for 8 and 9 (substitutions are only recorded in the HOOK
 * lines). Replies of "(str, n)" results go to the connection of the hook's user (the first
 * argument, the third for OnNewBan; none for hooks without a connection).
 * fmt must be one of the formats of table §4.1 or "", "p", "sl", "sll", "slll", "ll",
 * "sssss" (C varargs cannot be forwarded generically); else returns -1. Pass integers as
 * long and a NULL string as (const char *)NULL.
 */
int hubsim_call_hook(int hook, const char *fmt, ...);

/* One argument of hubsim_call_hookv / hubsim_call_function; the member used is chosen by the
 * matching format character ('l' -> l, 's' -> s, 'd' -> d, 'p' -> p). */
typedef struct hubsim_arg {
	long l;
	const char *s;
	double d;
	void *p;
} hubsim_arg;

/* hubsim_call_hook with the arguments in an array of strlen(fmt) elements. */
int hubsim_call_hookv(int hook, const char *fmt, const hubsim_arg *args);

/*
 * Generation B only (§3.9): w_CallFunction(id, func_name, w_pack(fmt, args...)), which the
 * plugin itself never calls. Records "FUNC <func_name>\t<id>\t<result>" and releases the
 * result with w_free_args. Returns 1 for a non-NULL result, 0 for NULL, -1 on error (not B,
 * not open, unsupported fmt).
 */
int hubsim_call_function(int id, const char *func_name, const char *fmt, const hubsim_arg *args);

/* ---- test knobs (hostile input) ---------------------------------------------- */

/*
 * w_pack(pack_fmt, ints[0..8], doubles[0..8]) through the loaded wrapper, for any pack_fmt with
 * at most 8 'd' and at most 8 other characters (valid or not): the wrapper's va_arg reads the
 * k-th 'd' from doubles[k] and the k-th other character's value from ints[k] (on x86-64 SysV
 * and AArch64 the two kinds travel in separate registers, then the stack in call order; a 's',
 * 'p', 'L', 'D' or 'O' value is passed as a long holding the pointer). If print is not NULL,
 * w_packprint's text of the result (or "(null)") is copied there, cut at print_cap bytes. If
 * the result is not NULL: w_unpack(result, unpack_fmt, out+0, out+8, .. out+120), unpack_fmt
 * at most 16 characters, out 16 slots of 8 bytes; then the result is released with free(), or
 * with w_free_args() if free_args (generation B only; it also frees the strings and lists the
 * result points to outside its block, which must then be malloc'ed).
 * Returns 0 if w_pack returned NULL, 1 if w_unpack returned 0, 2 if it returned 1; -1 if not
 * open, a pointer argument is NULL, a format is too long, or free_args under A.
 */
int hubsim_pack_probe(const char *pack_fmt, const long *ints, const double *doubles,
		      const char *unpack_fmt, void *out, char *print, size_t print_cap,
		      int free_args);

/* Modes of hubsim_fault_callback. */
enum hubsim_fault {
	HUBSIM_FAULT_NONE = 0,   /* the callback works again */
	HUBSIM_FAULT_NULL = 1,   /* returns NULL without acting */
	HUBSIM_FAULT_FORMAT = 2, /* returns w_pack("sd", strdup("junk"), 0.5) without acting */
	HUBSIM_FAULT_OPAQUE = 3, /* returns w_pack("p", NULL) without acting */
};

/*
 * Makes the callback `name` (docs/abi.md §6.1, without the underscore: "GetNickList") misbehave as
 * `mode` says, from now until changed or hubsim_close, in the table the wrapper got at w_Begin
 * (through the plugin face). One callback at a time: a new call replaces the previous fault.
 * Returns 0, or -1 if not open, without the plugin face (HUBSIM_NO_FACE), or for an unknown
 * name or mode.
 */
int hubsim_fault_callback(const char *name, int mode);

/* ---- records -------------------------------------------------------------------------- */

/* Number of records since open or the last hubsim_record_clear. */
size_t hubsim_record_count(void);

/* The i-th record: NUL-terminated line without newline, fields separated by one TAB.
 * Owned by hubsim, valid until hubsim_record_clear / hubsim_close. NULL if i is out of
 * range. */
const char *hubsim_record(size_t i);

/* Forgets all records. */
void hubsim_record_clear(void);

/* ---- transcripts and CLI -------------------------------------------------------------- */

/*
 * Replays a transcript (format: README.md): converts each field from UTF-8 to `encoding`
 * with iconv (e.g. "CP1251", "CP1252", "UTF-8"; NULL = "CP1252"), applies the escapes
 * (\xNN, \\, \t, \n, \r) and runs the event. Does not sleep: before each event it fires
 * hubsim_timer(start_time + s) for every whole second s crossed since the previous event.
 * Unless quiet, every record is also printed to stdout as it is made, converted to UTF-8
 * (README.md, "Output").
 * Returns the number of transcript events run, or -1 on error (unreadable file, line that
 * cannot be converted or parsed, unknown event; hubsim_last_error names the line). Events
 * before the error have been run.
 */
int hubsim_replay(const char *transcript_path, const char *encoding, int quiet);

/* Number of events of the last hubsim_replay whose combined result was 0 (blocked). */
size_t hubsim_replay_blocked(void);

/* The command-line program (README.md, "CLI"). Returns the process exit code. */
int hubsim_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
