/*
 * Hub events (login, logout, chat, PM, timer), the user list, commands, connection closes,
 * queued script commands, bans and restrictions.
 *
 * The order of hooks follows Verlihub's hub code (cDCProto::DC_ValidateNick, DC_MyINFO,
 * cServerDC::DoUserLogin, DC_Chat with ParseForCommands before the chat hook, DC_To);
 * the argument lists follow python_pi (docs/abi.md §4.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- user list ---- */

struct member *member_find(const char *nick)
{
	for (size_t i = 0; nick && i < g.members.n; i++)
		if (!strcmp(g.members.v[i]->nick, nick))
			return g.members.v[i];
	return NULL;
}

struct member *member_by_ip(const char *ip)
{
	for (size_t i = 0; ip && i < g.members.n; i++)
		if (!g.members.v[i]->is_bot && !strcmp(g.members.v[i]->ip, ip))
			return g.members.v[i];
	return NULL;
}

struct member *member_add(const char *nick, long uclass, const char *ip, int is_bot)
{
	struct member *m = xmalloc(sizeof *m);
	memset(m, 0, sizeof *m);
	m->nick = xstrdup(nick);
	m->uclass = uclass;
	m->ip = xstrdup(ip ? ip : "");
	for (int i = 0; i < MI_COUNT; i++)
		m->info[i] = xstrdup("");
	m->hub_url = xstrdup("");
	m->is_bot = is_bot;
	m->in_list = is_bot;
	VEC_PUSH(g.members, m);
	return m;
}

void member_remove(struct member *m)
{
	for (size_t i = 0; i < g.members.n; i++) {
		if (g.members.v[i] != m)
			continue;
		memmove(&g.members.v[i], &g.members.v[i + 1], (g.members.n - i - 1) * sizeof m);
		g.members.n--;
		break;
	}
	free(m->nick);
	free(m->ip);
	for (int i = 0; i < MI_COUNT; i++)
		free(m->info[i]);
	free(m->hub_url);
	free(m);
}

/* $MyINFO $ALL <nick> <desc><tag>$ $<speed>$<email>$<share>$ */
char *myinfo_string(const struct member *m)
{
	return xstrdup_printf("$MyINFO $ALL %s %s%s$ $%s$%s$%s$", m->nick, m->info[MI_DESC],
			      m->info[MI_TAG], m->info[MI_SPEED], m->info[MI_EMAIL],
			      m->info[MI_SHARE]);
}

void broadcast_myinfo(const struct member *m)
{
	char *info = myinfo_string(m);
	hs_record("MYINFO", 1, info);
	free(info);
}

/* ---- bans and restrictions ---- */

int ban_matches(const char *nick, const char *ip)
{
	for (size_t i = 0; i < g.bans.n; i++) {
		const struct ban *b = &g.bans.v[i];
		if (b->until && b->until <= g.now)
			continue;
		/* eBF_NICKIP 1, eBF_IP 2, eBF_NICK 4 (A values, what the hub's Ban() expects) */
		if ((b->type & 5) && b->nick && nick && !strcmp(b->nick, nick))
			return 1;
		if ((b->type & 3) && b->ip && *b->ip && ip && !strcmp(b->ip, ip))
			return 1;
	}
	return 0;
}

double restriction_until(const struct member *m, int kind)
{
	return m->restricted_until[kind] > g.now ? m->restricted_until[kind] : 0;
}

/* ---- connection closes ---- */

/* Records "CLOSE <nick>\t<reason>" now; the close itself happens in process_closes. */
void request_close(const char *nick, long code, const char *record_reason)
{
	struct member *m = member_find(nick);
	if (!m || m->is_bot || m->closing)
		return;
	m->closing = 1;
	hs_record("CLOSE", 2, nick, record_reason);
	struct pending_close c = { xstrdup(nick), code };
	VEC_PUSH(g.closes, c);
}

/* The hub closes a connection: logout hooks for a user in the list, then the close hooks. */
static void close_member(const char *nick, long code)
{
	struct member *m = member_find(nick);
	if (!m || m->is_bot)
		return;
	char *n = xstrdup(m->nick), *ip = xstrdup(m->ip);
	if (m->in_list)
		dispatch(H_OnUserLogout, g.w.pack("s", n), MODE_GENERIC, n, NULL);
	dispatch(H_OnCloseConn, g.w.pack("s", ip), MODE_GENERIC, n, NULL);
	dispatch(H_OnCloseConnEx, g.w.pack("sls", ip, code, n), MODE_GENERIC, n, NULL);
	m = member_find(n);
	if (m && !m->is_bot)
		member_remove(m);
	free(n);
	free(ip);
}

void process_closes(void)
{
	while (g.closes.n) {
		struct pending_close c = g.closes.v[0];
		memmove(&g.closes.v[0], &g.closes.v[1], (g.closes.n - 1) * sizeof c);
		g.closes.n--;
		close_member(c.nick, c.code);
		free(c.nick);
	}
}

/* ---- script commands ---- */

/* cpiPython::OnScriptCommand: the bot-name updates, then OnScriptCommand to all. */
int fire_script_command(const char *cmd, const char *data, const char *plug, const char *path)
{
	if (!*plug && !*path && !strcmp(cmd, "_hub_security_change"))
		set_bot_names(data, NULL);
	else if (!*plug && !*path && !strcmp(cmd, "_opchat_name_change"))
		set_bot_names(NULL, data);
	return dispatch(H_OnScriptCommand, g.w.pack("ssss", cmd, data, plug, path),
			MODE_GENERIC, NULL, NULL);
}

void flush_script_commands(void)
{
	while (g.script_cmds.n) {
		struct script_cmd c = g.script_cmds.v[0];
		memmove(&g.script_cmds.v[0], &g.script_cmds.v[1], (g.script_cmds.n - 1) * sizeof c);
		g.script_cmds.n--;
		fire_script_command(c.cmd, c.data, "python", c.path);
		free(c.cmd);
		free(c.data);
		free(c.path);
	}
}

/* ---- commands ---- */

/*
 * cDCProto::ParseForCommands. Sets *was_command; returns the combined result of the command
 * hooks (1 if not a command). The operator path runs python_pi's console first, inside its
 * OnOperatorCommand handler (docs/abi.md §10.1): a console command is answered and hidden from
 * scripts (result 0).
 */
int run_command(const char *nick, const char *text, int in_pm, int *was_command)
{
	struct member *m = member_find(nick);
	const char *op_prefix = config_get("config", "cmd_start_op");
	const char *user_prefix = config_get("config", "cmd_start_user");
	*was_command = 0;
	if (!m || !text || !*text)
		return 1;
	int is_op = m->uclass >= CLASS_OPERATOR && op_prefix && strchr(op_prefix, text[0]);
	if (!is_op && !(user_prefix && strchr(user_prefix, text[0])))
		return 1;
	*was_command = 1;

	char *n = xstrdup(m->nick), *cmd = xstrdup(text), prefix[2] = { text[0], '\0' };
	long uclass = m->uclass;
	int r = dispatch(H_OnHubCommand, g.w.pack("sslls", n, cmd + 1, uclass, (long)in_pm, prefix),
			 MODE_GENERIC, n, NULL);
	if (r && is_op) {
		if (console_command(n, uclass, cmd))
			r = 0;
		else
			r = dispatch(H_OnOperatorCommand, g.w.pack("ss", n, cmd), MODE_GENERIC, n, NULL);
	} else if (r) {
		r = dispatch(H_OnUserCommand, g.w.pack("ss", n, cmd), MODE_GENERIC, n, NULL);
	}
	free(n);
	free(cmd);
	return r;
}

/* ---- events ---- */

/* One MyINFO hook in MyINFO mode; applies substitutions to the member. 0 = refused. */
static int myinfo_hook(int hook, const char *nick)
{
	struct member *m = member_find(nick);
	if (!m)
		return 0;
	struct effects fx = { 0 };
	int r = dispatch(hook, g.w.pack("ssssss", nick, m->info[MI_DESC], m->info[MI_TAG],
					 m->info[MI_SPEED], m->info[MI_EMAIL], m->info[MI_SHARE]),
			 MODE_MYINFO, nick, &fx);
	m = member_find(nick);
	for (int i = 0; m && i < MI_COUNT; i++)
		if (fx.info[i])
			replace_str(&m->info[i], fx.info[i]);
	effects_free(&fx);
	return r;
}

static int login_steps(const char *nick, const char *ip)
{
	if (!dispatch(H_OnNewConn, g.w.pack("s", ip), MODE_GENERIC, nick, NULL) ||
	    !dispatch(H_OnParsedMsgValidateNick, g.w.pack("s", nick), MODE_GENERIC, nick, NULL)) {
		request_close(nick, eCR_PLUGIN, "plugin");
		return 0;
	}
	if (!myinfo_hook(H_OnFirstMyINFO, nick)) {
		request_close(nick, eCR_KICKED, "plugin");
		return 0;
	}
	if (!myinfo_hook(H_OnParsedMsgMyINFO, nick))
		return 0; /* MyINFO dropped: the login does not complete */

	struct member *m = member_find(nick);
	if (!m || m->closing)
		return 0;
	m->in_list = 1;
	broadcast_myinfo(m);
	if (!dispatch(H_OnUserInList, g.w.pack("s", nick), MODE_GENERIC, nick, NULL) ||
	    !dispatch(H_OnUserLogin, g.w.pack("s", nick), MODE_GENERIC, nick, NULL)) {
		request_close(nick, eCR_PLUGIN, "plugin");
		return 0;
	}
	return 1;
}

int hubsim_login(const char *nick, long uclass, const char *ip, const char *desc,
		 const char *tag, const char *speed, const char *email, const char *share)
{
	if (!g.open)
		return -1;
	if (!nick || !*nick)
		return 0;
	if (member_find(nick)) {
		hs_record("CLOSE", 2, nick, "duplicate");
		return 0;
	}
	if (ban_matches(nick, ip)) {
		hs_record("CLOSE", 2, nick, "banned");
		return 0;
	}
	hs_enter();
	struct member *m = member_add(nick, uclass, ip, 0);
	const char *fields[MI_COUNT] = { desc, tag, speed, email, share };
	for (int i = 0; i < MI_COUNT; i++)
		replace_str(&m->info[i], fields[i] ? fields[i] : "");
	char *n = xstrdup(nick), *addr = xstrdup(m->ip);
	int r = login_steps(n, addr);
	free(n);
	free(addr);
	hs_leave();
	return r;
}

int hubsim_logout(const char *nick)
{
	if (!g.open)
		return -1;
	struct member *m = member_find(nick);
	if (!m || m->is_bot)
		return 0;
	hs_enter();
	m->closing = 1;
	char *n = xstrdup(nick);
	close_member(n, eCR_QUIT);
	free(n);
	hs_leave();
	return 1;
}

int hubsim_chat(const char *nick, const char *text)
{
	if (!g.open)
		return -1;
	struct member *m = member_find(nick);
	if (!m || m->is_bot || !m->in_list || !text)
		return 0;
	hs_enter();
	char *n = xstrdup(nick), *t = xstrdup(text);
	int is_command, r = run_command(n, t, 0, &is_command);
	if (!is_command) {
		m = member_find(n);
		if (!m || restriction_until(m, R_CHAT)) {
			r = 0;
		} else {
			struct effects fx = { 0 };
			r = dispatch(H_OnParsedMsgChat, g.w.pack("ss", n, t), MODE_CHAT, n, &fx);
			if (r)
				hs_record("MC", 2, fx.nick ? fx.nick : n, fx.text ? fx.text : t);
			effects_free(&fx);
		}
	}
	free(n);
	free(t);
	hs_leave();
	return r;
}

int hubsim_pm(const char *from, const char *to, const char *text)
{
	if (!g.open)
		return -1;
	struct member *m = member_find(from), *target = member_find(to);
	if (!m || m->is_bot || !m->in_list || !target || !target->in_list || !text)
		return 0;
	if (!target->is_bot && restriction_until(m, R_PM))
		return 0;
	hs_enter();
	char *f = xstrdup(from), *t = xstrdup(to), *x = xstrdup(text);
	long from_class = m->uclass;
	int to_user = !target->is_bot;
	int to_opchat = target->fixed_bot && !strcmp(to, g.opchatname);
	int to_security = target->fixed_bot && !strcmp(to, g.botname);
	int r = dispatch(H_OnParsedMsgPM, g.w.pack("sss", f, x, t), MODE_GENERIC, f, NULL);
	if (r && to_user && member_find(t)) {
		hs_record("PM", 4, t, f, f, x);
	} else if (r && to_opchat && from_class >= CLASS_OPERATOR) {
		if (dispatch(H_OnOpChatMessage, g.w.pack("ss", f, x), MODE_GENERIC, NULL, NULL))
			hs_record("OPCHAT", 2, f, x);
	} else if (r && to_security) {
		int is_command;
		r = run_command(f, x, 1, &is_command);
	}
	free(f);
	free(t);
	free(x);
	hs_leave();
	return r;
}

int hubsim_timer(double now_s)
{
	if (!g.open)
		return -1;
	hs_enter();
	g.now = now_s;
	flush_script_commands();
	int r = dispatch(H_OnTimer, g.w.pack("d", now_s), MODE_GENERIC, NULL, NULL);
	hs_leave();
	return r;
}
