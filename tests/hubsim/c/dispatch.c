/*
 * python_pi's hook dispatch (docs/abi.md §4.2): cpiPython::CallAll and its chat / MyINFO variants,
 * plus argument packing for the generic hook and function calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void effects_free(struct effects *fx)
{
	free(fx->nick);
	free(fx->text);
	for (int i = 0; i < MI_COUNT; i++)
		free(fx->info[i]);
	memset(fx, 0, sizeof *fx);
}

/* Sends a "(str, n)" reply to the connection (docs/abi.md §4.2: '|' appended if missing). */
static void send_reply(const char *conn, const char *data)
{
	if (!conn || !data || !*data)
		return;
	size_t n = strlen(data);
	char *line = xstrdup_printf("%s%s", data, data[n - 1] == '|' ? "" : "|");
	hs_record("RAW", 2, conn, line);
	free(line);
}

/* A hook result as the plugin's handler for the mode reads it. */
struct result {
	enum { RES_NULL, RES_L, RES_SL, RES_SS, RES_SSSSS, RES_OTHER } kind;
	long n;
	char *s[MI_COUNT];   /* borrowed from the result struct */
};

/* Unpacks r with the formats the plugin tries, in its order (docs/abi.md §4.2). */
static void classify(w_Targs *r, enum mode mode, struct result *res)
{
	memset(res, 0, sizeof *res);
	if (!r)
		res->kind = RES_NULL;
	else if (g.w.unpack(r, "l", &res->n))
		res->kind = RES_L;
	else if (mode == MODE_CHAT && g.w.unpack(r, "ss", &res->s[0], &res->s[1]))
		res->kind = RES_SS;
	else if (mode == MODE_MYINFO &&
		 g.w.unpack(r, "sssss", &res->s[0], &res->s[1], &res->s[2], &res->s[3], &res->s[4]))
		res->kind = RES_SSSSS;
	else if (g.w.unpack(r, "sl", &res->s[0], &res->n))
		res->kind = RES_SL;
	else
		res->kind = RES_OTHER;
}

/* The result field of a HOOK record. */
static char *result_text(w_Targs *r, const struct result *res)
{
#define Z(x) ((x) ? (x) : "(null)")
	switch (res->kind) {
	case RES_NULL: return xstrdup("NULL");
	case RES_L: return xstrdup_printf("l:%ld", res->n);
	case RES_SL: return xstrdup_printf("sl:%s:%ld", Z(res->s[0]), res->n);
	case RES_SS: return xstrdup_printf("ss:%s:%s", Z(res->s[0]), Z(res->s[1]));
	case RES_SSSSS:
		return xstrdup_printf("sssss:%s:%s:%s:%s:%s", Z(res->s[0]), Z(res->s[1]),
				      Z(res->s[2]), Z(res->s[3]), Z(res->s[4]));
	default: return xstrdup_printf("unexpected:%s", Z(g.w.packprint(r)));
	}
#undef Z
}

/* Applies one script's result to the combined result, as the plugin does. */
static int apply(int hook, w_Targs *r, const struct result *res, const char *conn,
		 struct effects *fx, int result)
{
	switch (res->kind) {
	case RES_L:
		return res->n ? result : 0;
	case RES_SS:
		if (fx && res->s[0])
			replace_str(&fx->nick, res->s[0]);
		if (fx && res->s[1])
			replace_str(&fx->text, res->s[1]);
		return 1; /* a substitution overrides earlier refusals */
	case RES_SSSSS:
		for (int i = 0; fx && i < MI_COUNT; i++)
			if (res->s[i])
				replace_str(&fx->info[i], res->s[i]);
		return 1;
	case RES_SL:
		send_reply(conn, res->s[0]);
		return res->n ? result : 0;
	case RES_OTHER: {
		const char *text = g.w.packprint(r);
		hs_log(1, "PY: CallAll %s: unexpected return value %s\n", hook_name(hook),
		       text ? text : "(null)");
		return result;
	}
	default:
		return result;
	}
}

/*
 * cpiPython::CallAll (docs/abi.md §4.2): every active script in call order, w_HasHook before every
 * w_CallHook, no early stop; args released with free() afterwards. conn names the
 * connection "(str, n)" replies go to (NULL: the hook has none). fx (may be NULL) receives
 * chat / MyINFO substitutions. Each call is recorded ("HOOK ...") when it returns, before
 * the result takes effect. Scripts loaded during the dispatch are not called for it;
 * scripts unloaded during it are skipped from then on.
 */
int dispatch(int hook, w_Targs *args, enum mode mode, const char *conn, struct effects *fx)
{
	int result = 1;
	char *conn_copy = xstrdup(conn); /* conn may belong to a user closed meanwhile */

	if (g.log_level >= (hook == H_OnTimer ? 4 : 2)) {
		const char *name = g.w.HookName(hook);
		const char *params = g.w.packprint(args);
		hs_log(0, "PY: CallAll %s: parameters %s\n", name ? name : "(null)",
		       params ? params : "(null)");
	}

	size_t count = g.scripts.n;
	int *ids = xmalloc(count * sizeof *ids);
	for (size_t i = 0; i < count; i++)
		ids[i] = g.scripts.v[i].active ? g.scripts.v[i].id : -1;

	for (size_t i = 0; i < count; i++) {
		struct script *s = ids[i] < 0 ? NULL : script_by_id(ids[i]);
		if (!s || !s->active || !g.w.HasHook(ids[i], hook))
			continue;
		w_Targs *r = g.w.CallHook(ids[i], hook, args);
		struct result res;
		classify(r, mode, &res);
		char *text = result_text(r, &res), id_text[16];
		snprintf(id_text, sizeof id_text, "%d", ids[i]);
		hs_record("HOOK", 3, hook_name(hook), id_text, text);
		free(text);
		if (r) {
			result = apply(hook, r, &res, conn_copy, fx, result);
			release_result(r);
		}
	}
	free(ids);
	free(conn_copy);
	free(args);
	return result;
}

/*
 * w_pack(fmt, ...) with the arguments taken from an array: C cannot forward variadic
 * arguments, so every supported format has its own call.
 */
w_Targs *pack_args(const char *fmt, const hubsim_arg *a)
{
	w_Targs *(*pack)(const char *, ...) = g.w.pack;
#define L(i) a[i].l
#define S(i) a[i].s
	if (!fmt)
		return NULL;
	if (!strcmp(fmt, ""))
		return pack("");
	if (!strcmp(fmt, "l"))
		return pack(fmt, L(0));
	if (!strcmp(fmt, "d"))
		return pack(fmt, a[0].d);
	if (!strcmp(fmt, "p"))
		return pack(fmt, a[0].p);
	if (!strcmp(fmt, "s"))
		return pack(fmt, S(0));
	if (!strcmp(fmt, "ss"))
		return pack(fmt, S(0), S(1));
	if (!strcmp(fmt, "sss"))
		return pack(fmt, S(0), S(1), S(2));
	if (!strcmp(fmt, "ssss"))
		return pack(fmt, S(0), S(1), S(2), S(3));
	if (!strcmp(fmt, "sssss"))
		return pack(fmt, S(0), S(1), S(2), S(3), S(4));
	if (!strcmp(fmt, "ssssss"))
		return pack(fmt, S(0), S(1), S(2), S(3), S(4), S(5));
	if (!strcmp(fmt, "sl"))
		return pack(fmt, S(0), L(1));
	if (!strcmp(fmt, "sll"))
		return pack(fmt, S(0), L(1), L(2));
	if (!strcmp(fmt, "slll"))
		return pack(fmt, S(0), L(1), L(2), L(3));
	if (!strcmp(fmt, "ll"))
		return pack(fmt, L(0), L(1));
	if (!strcmp(fmt, "sls"))
		return pack(fmt, S(0), L(1), S(2));
	if (!strcmp(fmt, "ssl"))
		return pack(fmt, S(0), S(1), L(2));
	if (!strcmp(fmt, "ssll"))
		return pack(fmt, S(0), S(1), L(2), L(3));
	if (!strcmp(fmt, "sslls"))
		return pack(fmt, S(0), S(1), L(2), L(3), S(4));
	if (!strcmp(fmt, "sssssl"))
		return pack(fmt, S(0), S(1), S(2), S(3), S(4), L(5));
#undef L
#undef S
	return NULL;
}

int hubsim_pack_probe(const char *pack_fmt, const long *ints, const double *doubles,
		      const char *unpack_fmt, void *out, char *print, size_t print_cap,
		      int free_args)
{
	if (!g.open || !pack_fmt || !ints || !doubles || !unpack_fmt || !out ||
	    strlen(unpack_fmt) > 16 || (free_args && !g.w.free_args)) {
		hs_error("hubsim_pack_probe: not open, NULL argument, format too long or A");
		return -1;
	}
	size_t nd = 0, ni = 0;
	for (const char *c = pack_fmt; *c; c++)
		*c == 'd' ? nd++ : ni++;
	if (nd > 8 || ni > 8) {
		hs_error("hubsim_pack_probe: more than 8 'd' or 8 other characters");
		return -1;
	}
	const long *i = ints;
	const double *d = doubles;
	w_Targs *a = g.w.pack(pack_fmt, i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], d[0], d[1],
			      d[2], d[3], d[4], d[5], d[6], d[7]);
	if (print && print_cap) {
		const char *text = g.w.packprint(a);
		snprintf(print, print_cap, "%s", text ? text : "(null)");
	}
	if (!a)
		return 0;
	char *o = out;
	int r = g.w.unpack(a, unpack_fmt, o, o + 8, o + 16, o + 24, o + 32, o + 40, o + 48, o + 56,
			   o + 64, o + 72, o + 80, o + 88, o + 96, o + 104, o + 112, o + 120);
	if (free_args)
		g.w.free_args(a);
	else
		free(a);
	return r ? 2 : 1;
}

/* The connection a hook's "(str, n)" replies go to, from its arguments (docs/abi.md §4.1). */
static const char *hook_conn(int hook, const char *fmt, const hubsim_arg *a)
{
	switch (hook) {
	case 13: case 14: case 15: case 33: case 37: /* no connection */
		return NULL;
	case H_OnNewBan:
		return strlen(fmt) > 2 && fmt[2] == 's' ? a[2].s : NULL;
	default: {
		if (fmt[0] != 's' || !a[0].s)
			return NULL;
		struct member *m = member_by_ip(a[0].s); /* IP-first hooks reach the user */
		return m ? m->nick : a[0].s;
	}
	}
}

int hubsim_call_hookv(int hook, const char *fmt, const hubsim_arg *args)
{
	if (!g.open) {
		hs_error("hubsim is not open");
		return -1;
	}
	w_Targs *packed = pack_args(fmt, args);
	if (!packed) {
		hs_error("hubsim_call_hook: unsupported format \"%s\"", fmt ? fmt : "(null)");
		return -1;
	}
	enum mode mode = hook == H_OnParsedMsgChat ? MODE_CHAT
		: (hook == H_OnParsedMsgMyINFO || hook == H_OnFirstMyINFO) ? MODE_MYINFO
		: MODE_GENERIC;
	struct effects fx = { 0 };
	hs_enter();
	char *conn = xstrdup(hook_conn(hook, fmt, args));
	int r = dispatch(hook, packed, mode, conn, &fx);
	free(conn);
	effects_free(&fx);
	hs_leave();
	return r;
}

int hubsim_call_hook(int hook, const char *fmt, ...)
{
	hubsim_arg a[8];
	size_t n = fmt ? strlen(fmt) : 0;
	if (n > sizeof a / sizeof a[0]) {
		hs_error("hubsim_call_hook: format \"%s\" is too long", fmt);
		return -1;
	}
	memset(a, 0, sizeof a);
	va_list ap;
	va_start(ap, fmt);
	for (size_t i = 0; i < n; i++) {
		switch (fmt[i]) {
		case 'l': a[i].l = va_arg(ap, long); break;
		case 's': a[i].s = va_arg(ap, const char *); break;
		case 'd': a[i].d = va_arg(ap, double); break;
		case 'p': a[i].p = va_arg(ap, void *); break;
		default:
			va_end(ap);
			hs_error("hubsim_call_hook: unsupported format character '%c'", fmt[i]);
			return -1;
		}
	}
	va_end(ap);
	return hubsim_call_hookv(hook, fmt, a);
}

int hubsim_call_function(int id, const char *func_name, const char *fmt, const hubsim_arg *args)
{
	if (!g.open || g.gen != 'B') {
		hs_error("hubsim_call_function needs an open generation B hub");
		return -1;
	}
	w_Targs *packed = pack_args(fmt, args);
	if (!packed) {
		hs_error("hubsim_call_function: unsupported format \"%s\"", fmt ? fmt : "(null)");
		return -1;
	}
	hs_enter();
	w_Targs *r = g.w.CallFunction(id, func_name, packed);
	free(packed);
	char *desc, id_text[16];
	long n;
	double d;
	char *s;
	if (r && g.w.unpack(r, "d", &d))
		desc = xstrdup_printf("d:%g", d);
	else if (r && g.w.unpack(r, "s", &s))
		desc = xstrdup_printf("s:%s", s ? s : "(null)");
	else if (r && g.w.unpack(r, "D", &s))
		desc = xstrdup_printf("D:%s", s ? s : "(null)");
	else if (r && g.w.unpack(r, "l", &n))
		desc = xstrdup_printf("l:%ld", n);
	else {
		struct result res;
		classify(r, MODE_GENERIC, &res);
		desc = result_text(r, &res);
	}
	snprintf(id_text, sizeof id_text, "%d", id);
	hs_record("FUNC", 3, func_name ? func_name : "(null)", id_text, desc);
	free(desc);
	int ok = r != NULL;
	if (r)
		g.w.free_args(r);
	hs_leave();
	return ok;
}
