/*
 * hubsim: global state, lifecycle (open / close / load / unload), configuration store,
 * records and small helpers. See hubsim.h for the contract and internal.h for the layout.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct hub g;

static char last_error[1024];

const char *const hs_hook_names[HOOK_COUNT] = {
	"OnNewConn", "OnCloseConn", "OnCloseConnEx", "OnParsedMsgChat", "OnParsedMsgPM",
	"OnParsedMsgMCTo", "OnParsedMsgSearch", "OnParsedMsgSR", "OnParsedMsgMyINFO",
	"OnFirstMyINFO", "OnParsedMsgValidateNick", "OnParsedMsgAny", "OnParsedMsgAnyEx",
	"OnOpChatMessage", "OnPublicBotMessage", "OnUnLoad", "OnCtmToHub",
	"OnParsedMsgSupports", "OnParsedMsgMyHubURL", "OnParsedMsgExtJSON",
	"OnParsedMsgBotINFO", "OnParsedMsgVersion", "OnParsedMsgMyPass",
	"OnParsedMsgConnectToMe", "OnParsedMsgRevConnectToMe", "OnUnknownMsg",
	"OnOperatorCommand", "OnOperatorKicks", "OnOperatorDrops", "OnOperatorDropsWithReason",
	"OnValidateTag", "OnUserCommand", "OnHubCommand", "OnScriptCommand", "OnUserInList",
	"OnUserLogin", "OnUserLogout", "OnTimer", "OnNewReg", "OnNewBan", "OnSetConfig",
};

/* ---- helpers ---- */

void hs_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
}

const char *hubsim_last_error(void)
{
	return last_error;
}

/* Logs to stderr (stdout carries the records) when the log level is >= level. */
void hs_log(int level, const char *fmt, ...)
{
	if (g.log_level < level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("hubsim: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *xstrdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

char *xstrdup_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = xmalloc((size_t)(n < 0 ? 0 : n) + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void replace_str(char **slot, const char *s)
{
	char *copy = xstrdup(s);
	free(*slot);
	*slot = copy;
}

void vec_grow(void **v, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap * 2 : 8;
	while (n < need)
		n *= 2;
	void *p = realloc(*v, n * elem);
	if (!p) {
		fputs("hubsim: out of memory\n", stderr);
		abort();
	}
	*v = p;
	*cap = n;
}

const char *hook_name(int hook)
{
	static char other[32];
	if (hook >= 0 && hook < HOOK_COUNT)
		return hs_hook_names[hook];
	snprintf(other, sizeof other, "Hook%d", hook);
	return other;
}

void release_result(w_Targs *r)
{
	if (!r)
		return;
	if (g.gen == 'B')
		g.w.free_args(r);
	else
		free(r);
}

/* ---- records ---- */

void hs_record(const char *kind, int nfields, ...)
{
	size_t len = strlen(kind) + 1;
	va_list ap;
	va_start(ap, nfields);
	for (int i = 0; i < nfields; i++) {
		const char *f = va_arg(ap, const char *);
		len += strlen(f ? f : "(null)") + 1;
	}
	va_end(ap);

	char *line = xmalloc(len + 1), *p = line;
	p = stpcpy(p, kind);
	va_start(ap, nfields);
	for (int i = 0; i < nfields; i++) {
		const char *f = va_arg(ap, const char *);
		*p++ = i ? '\t' : ' ';
		p = stpcpy(p, f ? f : "(null)");
	}
	va_end(ap);
	VEC_PUSH(g.records, line);
	if (g.echo)
		echo_record(line);
}

size_t hubsim_record_count(void)
{
	return g.records.n;
}

const char *hubsim_record(size_t i)
{
	return i < g.records.n ? g.records.v[i] : NULL;
}

void hubsim_record_clear(void)
{
	for (size_t i = 0; i < g.records.n; i++)
		free(g.records.v[i]);
	g.records.n = 0;
}

/* ---- configuration store ---- */

const char *config_get(const char *conf, const char *var)
{
	for (size_t i = 0; i < g.config.n; i++)
		if (!strcmp(g.config.v[i].conf, conf) && !strcmp(g.config.v[i].var, var))
			return g.config.v[i].val;
	return NULL;
}

void config_put(const char *conf, const char *var, const char *val)
{
	for (size_t i = 0; i < g.config.n; i++) {
		if (!strcmp(g.config.v[i].conf, conf) && !strcmp(g.config.v[i].var, var)) {
			replace_str(&g.config.v[i].val, val);
			return;
		}
	}
	struct config_item item = { xstrdup(conf), xstrdup(var), xstrdup(val) };
	VEC_PUSH(g.config, item);
}

static void config_default(const char *conf, const char *var, const char *val)
{
	if (!config_get(conf, var))
		config_put(conf, var, val);
}

/* Renames the hub-security and op-chat bots (NULL = keep). */
void set_bot_names(const char *botname, const char *opchatname)
{
	const char *names[2] = { botname, opchatname };
	char **slots[2] = { &g.botname, &g.opchatname };
	for (int i = 0; i < 2; i++) {
		if (!names[i])
			continue;
		struct member *m = *slots[i] ? member_find(*slots[i]) : NULL;
		if (m && m->fixed_bot)
			replace_str(&m->nick, names[i]);
		replace_str(slots[i], names[i]);
	}
}

void hubsim_set_config(const char *conf, const char *var, const char *val)
{
	if (!conf || !var || !val)
		return;
	config_put(conf, var, val);
	if (!strcmp(conf, "config") && !strcmp(var, "hub_security"))
		set_bot_names(val, NULL);
	else if (!strcmp(conf, "config") && !strcmp(var, "opchat_name"))
		set_bot_names(NULL, val);
}

/* ---- lifecycle ---- */

static void free_state(void)
{
	for (size_t i = 0; i < g.scripts.n; i++) {
		free(g.scripts.v[i].path);
		free(g.scripts.v[i].name);
		free(g.scripts.v[i].version);
	}
	while (g.members.n)
		member_remove(g.members.v[g.members.n - 1]);
	for (size_t i = 0; i < g.config.n; i++) {
		free(g.config.v[i].conf);
		free(g.config.v[i].var);
		free(g.config.v[i].val);
	}
	for (size_t i = 0; i < g.bans.n; i++) {
		free(g.bans.v[i].nick);
		free(g.bans.v[i].ip);
	}
	for (size_t i = 0; i < g.regs.n; i++)
		free(g.regs.v[i].nick);
	for (size_t i = 0; i < g.closes.n; i++)
		free(g.closes.v[i].nick);
	for (size_t i = 0; i < g.script_cmds.n; i++) {
		free(g.script_cmds.v[i].cmd);
		free(g.script_cmds.v[i].data);
		free(g.script_cmds.v[i].path);
	}
	hubsim_record_clear();
	free(g.scripts.v);
	free(g.members.v);
	free(g.config.v);
	free(g.bans.v);
	free(g.regs.v);
	free(g.closes.v);
	free(g.script_cmds.v);
	free(g.records.v);
	free(g.botname);
	free(g.opchatname);
	free(g.config_dir);
	free(g.config_name);
	memset(&g, 0, sizeof g);
}

/* Resolves one wrapper symbol; the plugin refuses to start if any is missing (§1.2). */
static int resolve(void **slot, const char *name)
{
	dlerror();
	*slot = dlsym(g.lib, name);
	if (!*slot) {
		const char *err = dlerror();
		hs_error("Error locating vh_python_wrapper function symbols: %s",
			 err ? err : name);
		return -1;
	}
	return 0;
}

static int resolve_all(void)
{
	struct { void **slot; const char *name; } syms[] = {
		{ (void **)&g.w.Begin, "w_Begin" },
		{ (void **)&g.w.End, "w_End" },
		{ (void **)&g.w.ReserveID, "w_ReserveID" },
		{ (void **)&g.w.Load, "w_Load" },
		{ (void **)&g.w.Unload, "w_Unload" },
		{ (void **)&g.w.HasHook, "w_HasHook" },
		{ (void **)&g.w.CallHook, "w_CallHook" },
		{ (void **)&g.w.HookName, "w_HookName" },
		{ (void **)&g.w.pack, "w_pack" },
		{ (void **)&g.w.unpack, "w_unpack" },
		{ (void **)&g.w.LogLevel, "w_LogLevel" },
		{ (void **)&g.w.packprint, "w_packprint" },
		{ (void **)&g.w.CallFunction, "w_CallFunction" }, /* B only */
		{ (void **)&g.w.free_args, "w_free_args" },       /* B only (§1.3) */
	};
	size_t n = g.gen == 'B' ? sizeof syms / sizeof syms[0] : 12;
	for (size_t i = 0; i < n; i++)
		if (resolve(syms[i].slot, syms[i].name))
			return -1;
	return 0;
}

int hubsim_open(const char *shim_path, char generation)
{
	if (g.open) {
		hs_error("hubsim is already open");
		return -1;
	}
	if (!shim_path || (generation != 'A' && generation != 'B')) {
		hs_error("hubsim_open: need a wrapper path and generation 'A' or 'B'");
		return -1;
	}
	const char *level = getenv("HUBSIM_LOG_LEVEL");
	const char *dir = getenv("HUBSIM_CONFIG_DIR");
	g.gen = generation;
	g.log_level = level && *level ? atoi(level) : 1;
	g.start_time = (long)time(NULL);
	g.now = (double)g.start_time;
	g.config_dir = xstrdup(dir && *dir ? dir : "/tmp");
	g.config_name = xstrdup("config");

	config_default("config", "hub_security", "Verlihub");
	config_default("config", "opchat_name", "OpChat");
	config_default("config", "hub_name", "hubsim");
	config_default("config", "hub_encoding", "CP1252");
	config_default("config", "hub_topic", "");
	config_default("config", "cmd_start_op", "!");
	config_default("config", "cmd_start_user", "+");
	config_default("config", "plugin_mod_class", "5");
	replace_str(&g.botname, config_get("config", "hub_security"));
	replace_str(&g.opchatname, config_get("config", "opchat_name"));
	member_add(g.botname, CLASS_MASTER, "127.0.0.1", 1)->fixed_bot = 1;
	member_add(g.opchatname, CLASS_MASTER, "127.0.0.1", 1)->fixed_bot = 1;

	/* cpiPython::OnLoad: RTLD_LAZY | RTLD_GLOBAL, then every symbol (§1.1, §1.2). */
	g.lib = dlopen(shim_path, RTLD_LAZY | RTLD_GLOBAL);
	if (!g.lib) {
		hs_error("Error during dlopen(): %s", dlerror());
		goto fail;
	}
	if (resolve_all() || build_callback_table())
		goto fail;
	/* HUBSIM_LATE_CALLBACK=<Name>: that entry is filled in only after w_Begin (a caller
	 * that completes its table later; docs/abi.md §3.2). */
	const char *late = getenv("HUBSIM_LATE_CALLBACK");
	int late_index = late && *late ? callback_index(late) : -1;
	w_Tcallback late_fn = late_index >= 0 ? g.table[late_index] : NULL;
	if (late_index >= 0)
		g.table[late_index] = NULL;
	if (!g.w.Begin(g.table)) {
		hs_error("Initiating vh_python_wrapper failed!");
		goto fail;
	}
	if (late_index >= 0)
		g.table[late_index] = late_fn;
	g.w.RegisterFunction =
		(int (*)(int, const char *, w_Tcallback))dlsym(g.lib, "w_RegisterFunction");
	g.open = 1;
	g.w.LogLevel(g.log_level);
	last_error[0] = '\0';
	return 0;

fail:
	free_callback_table();
	if (g.lib)
		dlclose(g.lib);
	free_state();
	return -1;
}

void hubsim_close(void)
{
	if (!g.open) {
		free_state();
		return;
	}
	/* Hub destruction (§9.4): OnUnLoad(0) to all scripts, then ~cpiPython. */
	hs_enter();
	dispatch(H_OnUnLoad, g.w.pack("l", 0L), MODE_GENERIC, NULL, NULL);
	g.depth--; /* no close processing: the hub is going away */
	while (g.scripts.n)
		hs_unload_script(g.scripts.v[0].id);
	g.w.End();
	dlclose(g.lib);
	free_callback_table();
	free_state();
}

/* ---- scripts ---- */

struct script *script_by_id(int id)
{
	for (size_t i = 0; i < g.scripts.n; i++)
		if (g.scripts.v[i].id == id)
			return &g.scripts.v[i];
	return NULL;
}

static size_t script_index(int id)
{
	for (size_t i = 0; i < g.scripts.n; i++)
		if (g.scripts.v[i].id == id)
			return i;
	return (size_t)-1;
}

static void script_remove_at(size_t i)
{
	free(g.scripts.v[i].path);
	free(g.scripts.v[i].name);
	free(g.scripts.v[i].version);
	memmove(&g.scripts.v[i], &g.scripts.v[i + 1], (g.scripts.n - i - 1) * sizeof g.scripts.v[0]);
	g.scripts.n--;
}

/*
 * cPythonInterpreter::Init (§3.5). The script is entered in the list (inactive, so hooks do
 * not reach it) before w_Load, so callbacks made while it loads can find it by id.
 * position: index in the call order, or (size_t)-1 to append.
 */
int hs_load_script(const char *path, size_t position)
{
	int id = g.w.ReserveID();
	const char *base = strrchr(path, '/');
	struct script s = { id, xstrdup(path), xstrdup(base ? base + 1 : path), xstrdup("0.0.0"), 0 };
	if (position > g.scripts.n)
		position = g.scripts.n;
	VEC_PUSH(g.scripts, s);
	memmove(&g.scripts.v[position + 1], &g.scripts.v[position],
		(g.scripts.n - 1 - position) * sizeof s);
	g.scripts.v[position] = s;

	w_Targs *a = g.w.pack("lssssls", (long)id, path, g.botname, g.opchatname, g.config_dir,
			      (long)g.start_time, g.config_name);
	int r = g.w.Load(a);
	free(a);

	size_t i = script_index(id);
	if (r > -1) {
		if (i != (size_t)-1) {
			g.scripts.v[i].id = r;
			g.scripts.v[i].active = 1;
		}
		hs_log(2, "PY: cPythonInterpreter loaded script %d:%s\n", r, path);
		return r;
	}
	if (i != (size_t)-1)
		script_remove_at(i);
	hs_error("w_Load failed for %s (returned %d)", path, r);
	return -1;
}

/* ~cPythonInterpreter: w_Unload(id); the script stays findable (inactive) while it runs. */
int hs_unload_script(int id)
{
	size_t i = script_index(id);
	if (i == (size_t)-1)
		return 0;
	g.scripts.v[i].active = 0;
	g.w.Unload(id);
	i = script_index(id);
	if (i != (size_t)-1)
		script_remove_at(i);
	return 1;
}

int hubsim_load(const char *script_path)
{
	if (!g.open || !script_path) {
		hs_error(g.open ? "hubsim_load: NULL path" : "hubsim is not open");
		return -1;
	}
	hs_enter();
	int id = hs_load_script(script_path, (size_t)-1);
	hs_leave();
	return id;
}

int hubsim_unload(int id)
{
	if (!g.open)
		return 0;
	hs_enter();
	int r = hs_unload_script(id);
	hs_leave();
	return r;
}

int hubsim_script_count(void)
{
	return (int)g.scripts.n;
}

int hubsim_script_id(int index)
{
	if (index < 0 || (size_t)index >= g.scripts.n)
		return -1;
	return g.scripts.v[index].id;
}

/* ---- entry nesting ---- */

void hs_enter(void)
{
	g.depth++;
}

void hs_leave(void)
{
	if (g.depth == 1)
		process_closes();
	g.depth--;
}
