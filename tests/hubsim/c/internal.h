/*
 * Internal declarations shared by the hubsim C files. Not part of the public API.
 *
 * Files: hubsim.c (state, lifecycle, config, records, helpers), dispatch.c (python_pi's
 * CallAll and its result modes), events.c (hub events, users, closes), callbacks.c and
 * callbacks_hub.c (the `_<Name>` callbacks), callback_table.c (the table, the plugin face),
 * console.c (python_pi's !py* commands), replay.c (transcripts, output conversion),
 * cli.c (hubsim_main).
 */
#ifndef HUBSIM_INTERNAL_H
#define HUBSIM_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "callback_list.h"
#include "hubsim.h"

/* ---- wrapper ABI (docs/abi.md §2.1, §1.2) ---- */

/* Opaque: like python_pi, hubsim never reads a w_Targs itself, only through w_unpack. */
typedef struct w_Targs w_Targs;
typedef w_Targs *(*w_Tcallback)(int id, w_Targs *args);

#define W_MAX_CALLBACKS 100
#define HOOK_COUNT 41

/* The wrapper's entry points, resolved with dlsym. */
struct wrapper_api {
	int (*Begin)(w_Tcallback *callbacks);
	int (*End)(void);
	int (*ReserveID)(void);
	int (*RegisterFunction)(int id, const char *name, w_Tcallback cb); /* B, not resolved by python_pi */
	int (*Load)(w_Targs *args);
	int (*Unload)(int id);
	int (*HasHook)(int id, int hook);
	w_Targs *(*CallHook)(int id, int hook, w_Targs *params);
	w_Targs *(*CallFunction)(int id, const char *func_name, w_Targs *params); /* B */
	const char *(*HookName)(int hook);
	w_Targs *(*pack)(const char *format, ...);
	int (*unpack)(w_Targs *a, const char *format, ...);
	void (*LogLevel)(int level);
	const char *(*packprint)(w_Targs *a);
	void (*free_args)(w_Targs *a); /* B: linked directly by the B plugin */
};

/* Hook indices (docs/abi.md §4.1). */
enum hook {
	H_OnNewConn = 0, H_OnCloseConn = 1, H_OnCloseConnEx = 2, H_OnParsedMsgChat = 3,
	H_OnParsedMsgPM = 4, H_OnParsedMsgMyINFO = 8, H_OnFirstMyINFO = 9,
	H_OnParsedMsgValidateNick = 10, H_OnOpChatMessage = 13, H_OnUnLoad = 15,
	H_OnOperatorCommand = 26, H_OnOperatorKicks = 27, H_OnUserCommand = 31,
	H_OnHubCommand = 32, H_OnScriptCommand = 33, H_OnUserInList = 34, H_OnUserLogin = 35,
	H_OnUserLogout = 36, H_OnTimer = 37, H_OnNewBan = 39, H_OnSetConfig = 40,
};

/* Connection close reasons used by the hub (docs/abi.md §7.4). */
enum close_reason { eCR_KICKED = 2, eCR_QUIT = 4, eCR_PLUGIN = 21 };

/* User classes (src/cuser.h). */
enum { CLASS_OPERATOR = 3, CLASS_MASTER = 10 };

/* Result interpretation modes of python_pi (docs/abi.md §4.2). */
enum mode { MODE_GENERIC, MODE_CHAT, MODE_MYINFO };

/* MyINFO fields after the nick, in hook order. */
enum { MI_DESC, MI_TAG, MI_SPEED, MI_EMAIL, MI_SHARE, MI_COUNT };

/* Restriction kinds of UserRestrictions, in argument order (bits 1, 2, 4, 8). */
enum { R_CHAT, R_PM, R_SEARCH, R_CTM, R_COUNT };

/* Substitutions a chat / MyINFO mode dispatch collected (owned strings, NULL = keep). */
struct effects {
	char *nick, *text;      /* chat mode "ss" */
	char *info[MI_COUNT];   /* MyINFO mode "sssss" */
};

/* An entry of the hub's user list: a connected user or a bot. */
struct member {
	char *nick;
	long uclass;
	char *ip;
	char *info[MI_COUNT];   /* fake MyINFO fields */
	char *hub_url;
	int is_bot;             /* no connection */
	int fixed_bot;          /* the hub-security or op-chat bot */
	int in_list;            /* login finished: visible in the nick list */
	int closing;            /* a close is pending */
	double restricted_until[R_COUNT];
};

/* A loaded script, in call order. */
struct script {
	int id;
	char *path;
	char *name;             /* name_and_version: default the file name with ".py" */
	char *version;          /* default "0.0.0" */
	int active;             /* 0 while w_Load or w_Unload runs: not called by dispatch */
};

struct config_item { char *conf, *var, *val; };
struct ban { char *nick, *ip; long type; double until; /* until 0 = permanent */ };
struct reg { char *nick; long uclass; };
struct pending_close { char *nick; long code; };
struct script_cmd { char *cmd, *data, *path; };

/* A growable array of T. */
#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_PUSH(vec, item)                                                        \
	do {                                                                       \
		vec_grow((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof *(vec).v); \
		(vec).v[(vec).n++] = (item);                                       \
	} while (0)
void vec_grow(void **v, size_t *cap, size_t need, size_t elem);

/* The simulated hub. */
struct hub {
	int open;
	char gen;                 /* 'A' or 'B' */
	void *lib;                /* the wrapper */
	void *face;               /* libhubsim_plugin_<gen>.so or NULL */
	struct wrapper_api w;
	w_Tcallback *table;       /* the 100-entry table given to w_Begin */
	int log_level;
	long start_time;          /* Unix seconds at open */
	double now;               /* simulated clock (last timer), Unix seconds */
	char *botname, *opchatname, *config_dir, *config_name;
	int depth;                /* nesting of public entry points */
	VEC(struct script) scripts;
	VEC(struct member *) members;
	VEC(struct config_item) config;
	VEC(struct ban) bans;
	VEC(struct reg) regs;
	VEC(struct pending_close) closes;
	VEC(struct script_cmd) script_cmds;
	VEC(char *) records;
		int echo;                 /* print records as they are made (replay) */
	double speed;             /* replay pacing: transcript seconds per real second; 0 = no pauses */
	void *echo_cd;            /* iconv_t hub encoding -> UTF-8 for echo, or NULL */
	size_t replay_blocked;
};

extern struct hub g;
extern const char *const hs_hook_names[HOOK_COUNT];

/* ---- hubsim.c ---- */
void hs_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *xmalloc(size_t n);
char *xstrdup(const char *s);         /* NULL -> NULL */
char *xstrdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void replace_str(char **slot, const char *s); /* free old, store copy */
const char *hook_name(int hook);      /* hubsim's own name table; "Hook<n>" outside 0..40 */
void hs_record(const char *kind, int nfields, ...); /* "<kind> f1\tf2..." */
const char *config_get(const char *conf, const char *var);
void config_put(const char *conf, const char *var, const char *val);
struct script *script_by_id(int id);
int hs_load_script(const char *path, size_t position); /* id or -1 */
int hs_unload_script(int id);         /* 1 if it was loaded */
void hs_enter(void);                  /* public entry point begins */
void hs_leave(void);                  /* ... ends: carries out pending closes at depth 0 */
void release_result(w_Targs *r);      /* free() under A, w_free_args() under B */
void set_bot_names(const char *botname, const char *opchatname);

/* ---- dispatch.c ---- */
int dispatch(int hook, w_Targs *args, enum mode mode, const char *conn, struct effects *fx);
void effects_free(struct effects *fx);
w_Targs *pack_args(const char *fmt, const hubsim_arg *args); /* NULL: unsupported fmt */

/* ---- events.c ---- */
struct member *member_find(const char *nick);
struct member *member_by_ip(const char *ip);
struct member *member_add(const char *nick, long uclass, const char *ip, int is_bot);
void member_remove(struct member *m);
char *myinfo_string(const struct member *m);  /* "$MyINFO $ALL ..." (owned) */
void broadcast_myinfo(const struct member *m); /* record MYINFO */
void request_close(const char *nick, long code, const char *record_reason);
void process_closes(void);
int run_command(const char *nick, const char *text, int in_pm, int *was_command);
int fire_script_command(const char *cmd, const char *data, const char *plug, const char *path);
void flush_script_commands(void);
int ban_matches(const char *nick, const char *ip);
double restriction_until(const struct member *m, int kind);

/* ---- callbacks.c, callbacks_hub.c: the `_<Name>` callbacks ---- */
#define CB(name) w_Targs *_##name(int id, w_Targs *args)
#define UNPACK(...) g.w.unpack(args, __VA_ARGS__)
#define CB_DECLARE(name, a_index, b_index) CB(name);
#define CB_DECLARE_B(name, b_index) CB(name);
HUBSIM_CALLBACKS(CB_DECLARE, CB_DECLARE_B)
w_Targs *ret_long(long n);               /* w_pack("l", n) */
w_Targs *ret_str(const char *s);         /* w_pack("s", strdup(s)): owned by the receiver */
struct member *user_find(const char *nick); /* a connected user (not a bot) */
int valid_class(long uclass);            /* 0..5 or 10 */

/* ---- callback_table.c ---- */
int build_callback_table(void);       /* fills g.table (and g.face); 0 ok, -1 error */
int callback_index(const char *name); /* index of `name` in g.gen's table, or -1 */
/* The face calls fn for callback `name` (NULL: hubsim's own again); -1 without a face. */
int face_override(const char *name, w_Tcallback fn);

/* ---- abi_callers.c ---- */
int abi_open_out(void); /* opens $HUBSIM_ABI_OUT (else stdout) once; 0 on failure */
int abi_run(const char *scenario, const char *const *scripts, size_t nscripts);
void free_callback_table(void);

/* ---- console.c ---- */
int console_command(const char *nick, long uclass, const char *command); /* 1 if handled */

/* ---- replay.c ---- */
void echo_record(const char *line);
char *hub_to_display(void *cd, const char *s); /* owned UTF-8 text with \xNN escapes */

#endif
