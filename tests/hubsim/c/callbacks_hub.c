/*
 * The hub services python_pi offers to the wrapper, part 2: registrations, bans, robots,
 * the database, restrictions, commands, script commands and configuration. Conventions as
 * in callbacks.c (docs/abi.md §6.3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- registrations, bans, robots ---- */

static struct reg *reg_find(const char *nick)
{
	for (size_t i = 0; nick && i < g.regs.n; i++)
		if (!strcmp(g.regs.v[i].nick, nick))
			return &g.regs.v[i];
	return NULL;
}

CB(AddRegUser)
{
	const char *nick, *pass, *op;
	long uclass;
	(void)id;
	if (!UNPACK("slss", &nick, &uclass, &pass, &op) || !nick || !*nick ||
	    !valid_class(uclass) || reg_find(nick))
		return NULL;
	struct reg r = { xstrdup(nick), uclass };
	VEC_PUSH(g.regs, r);
	return ret_long(1);
}

CB(DelRegUser)
{
	const char *nick;
	struct reg *r;
	(void)id;
	if (!UNPACK("s", &nick) || !(r = reg_find(nick)))
		return NULL;
	free(r->nick);
	*r = g.regs.v[--g.regs.n];
	return ret_long(1);
}

CB(SetRegClass)
{
	const char *nick;
	long uclass;
	struct reg *r;
	(void)id;
	if (!UNPACK("sl", &nick, &uclass) || !valid_class(uclass) || !(r = reg_find(nick)))
		return NULL;
	r->uclass = uclass;
	return ret_long(1);
}

CB(Ban)
{
	const char *op, *nick, *why;
	long seconds, type;
	char s[24], t[24];
	(void)id;
	if (!UNPACK("sssll", &op, &nick, &why, &seconds, &type) || !op || !nick)
		return NULL;
	struct member *m = user_find(nick);
	struct ban b = { xstrdup(nick), xstrdup(m ? m->ip : ""), type,
			 seconds > 0 ? g.now + (double)seconds : 0 };
	VEC_PUSH(g.bans, b);
	snprintf(s, sizeof s, "%ld", seconds);
	snprintf(t, sizeof t, "%ld", type);
	hs_record("BAN", 5, op, nick, why ? why : "", s, t);
	return ret_long(1);
}

/* Removes temporary bans whose nick (field 0) or IP (field 1) is `key`. */
static w_Targs *del_temp_ban(w_Targs *args, int field)
{
	const char *key;
	if (!UNPACK("s", &key) || !key)
		return NULL;
	for (size_t i = g.bans.n; i-- > 0;) {
		struct ban *b = &g.bans.v[i];
		const char *v = field ? b->ip : b->nick;
		if (b->until && v && !strcmp(v, key)) {
			free(b->nick);
			free(b->ip);
			memmove(b, b + 1, (g.bans.n - i - 1) * sizeof *b);
			g.bans.n--;
		}
	}
	return ret_long(1);
}

CB(DelNickTempBan) { (void)id; return del_temp_ban(args, 0); }
CB(DelIPTempBan) { (void)id; return del_temp_ban(args, 1); }

/* eBOT_OK 0, eBOT_EXISTS 1, eBOT_WITHOUT_NICK 2, eBOT_BAD_CHARS 3, eBOT_RESERVED_NICK 4 */
static long robot_nick_check(const char *nick)
{
	if (!nick || !*nick)
		return 2;
	for (const unsigned char *c = (const unsigned char *)nick; *c; c++)
		if (*c < 0x20 || strchr(" $|<>", *c))
			return 3;
	if (!strcmp(nick, g.botname) || !strcmp(nick, g.opchatname))
		return 4;
	struct member *m = member_find(nick);
	return m && m->is_bot ? 1 : 0;
}

CB(IsRobotNickBad)
{
	const char *nick;
	(void)id;
	if (!UNPACK("s", &nick))
		return ret_long(5); /* eBOT_API_ERROR */
	return ret_long(robot_nick_check(nick));
}

CB(AddRobot)
{
	const char *nick, *desc, *speed, *email, *share;
	long uclass;
	(void)id;
	if (!UNPACK("slssss", &nick, &uclass, &desc, &speed, &email, &share) || !nick || !desc ||
	    !speed || !email || !share || robot_nick_check(nick) || member_find(nick))
		return NULL;
	struct member *m = member_add(nick, valid_class(uclass) ? uclass : 0, "127.0.0.1", 1);
	replace_str(&m->info[MI_DESC], desc);
	replace_str(&m->info[MI_SPEED], speed);
	replace_str(&m->info[MI_EMAIL], email);
	replace_str(&m->info[MI_SHARE], share);
	broadcast_myinfo(m);
	return ret_long(1);
}

CB(DelRobot)
{
	const char *nick;
	struct member *m;
	(void)id;
	if (!UNPACK("s", &nick) || !(m = member_find(nick)) || !m->is_bot || m->fixed_bot)
		return NULL;
	member_remove(m);
	return ret_long(1);
}

/* No hub database: every query fails with (0, 0, 0, NULL). */
CB(SQL)
{
	const char *query;
	long limit;
	(void)id;
	if (!UNPACK("sl", &query, &limit))
		return NULL;
	return g.w.pack("lllp", 0L, 0L, 0L, (void *)NULL);
}

/* ---- restrictions ---- */

/* Parses a hub period ("30", "30s", "5m", "3h", "2d", "1w", "1M", "1y") into seconds. */
static int parse_period(const char *s, double *seconds)
{
	char *end;
	double n = strtod(s, &end);
	if (end == s || n < 0)
		return 0;
	static const char units[] = "smhdwMy";
	static const double scale[] = { 1, 60, 3600, 86400, 604800, 2592000, 31536000 };
	if (!*end) {
		*seconds = n;
		return 1;
	}
	const char *u = end[1] ? NULL : strchr(units, *end);
	if (!u)
		return 0;
	*seconds = n * scale[u - units];
	return 1;
}

CB(UserRestrictions)
{
	const char *nick, *item[R_COUNT];
	struct member *m;
	double until[R_COUNT];
	(void)id;
	if (!UNPACK("sssss", &nick, &item[0], &item[1], &item[2], &item[3]) ||
	    !(m = user_find(nick)))
		return NULL;
	for (int i = 0; i < R_COUNT; i++) {
		double seconds;
		until[i] = m->restricted_until[i];
		if (!item[i] || !*item[i])
			continue;
		if (!strcmp(item[i], "0"))
			until[i] = 0;
		else if (!strcmp(item[i], "1"))
			until[i] = g.now + 604800;
		else if (parse_period(item[i], &seconds))
			until[i] = g.now + seconds;
		else
			return NULL;
	}
	long mask = 0;
	for (int i = 0; i < R_COUNT; i++) {
		m->restricted_until[i] = until[i];
		if (restriction_until(m, i))
			mask |= 1L << i;
	}
	return ret_long(mask);
}

/* ---- commands, scripts, configuration ---- */

CB(ParseCommand)
{
	const char *nick, *cmd;
	long in_pm;
	(void)id;
	struct member *m;
	if (!UNPACK("ssl", &nick, &cmd, &in_pm) || !cmd || !*cmd || !(m = user_find(nick)) ||
	    !m->in_list)
		return NULL;
	char *n = xstrdup(nick), *c = xstrdup(cmd);
	int was_command;
	run_command(n, c, in_pm != 0, &was_command);
	free(n);
	free(c);
	return ret_long(1);
}

CB(ScriptCommand)
{
	const char *cmd, *data;
	long instant;
	struct script *s;
	if (!UNPACK("ssl", &cmd, &data, &instant) || !cmd || !data || !(s = script_by_id(id)))
		return NULL;
	struct script_cmd c = { xstrdup(cmd), xstrdup(data), xstrdup(s->path) };
	if (instant > 0) {
		fire_script_command(c.cmd, c.data, "python", c.path);
		free(c.cmd);
		free(c.data);
		free(c.path);
	} else {
		VEC_PUSH(g.script_cmds, c);
	}
	return ret_long(1);
}

CB(name_and_version)
{
	const char *name, *version;
	struct script *s;
	if (!UNPACK("ss", &name, &version) || !(s = script_by_id(id)))
		return NULL;
	if (name && *name)
		replace_str(&s->name, name);
	if (version && *version)
		replace_str(&s->version, version);
	return g.w.pack("ss", xstrdup(s->name), xstrdup(s->version));
}

/* cServerDC::SetConfig: OnSetConfig may veto; the plugin then returns NULL anyway (§6.3). */
CB(SetConfig)
{
	const char *conf, *var, *val;
	(void)id;
	if (!UNPACK("sss", &conf, &var, &val) || !conf || !var || !val)
		return NULL;
	char *c = xstrdup(conf), *v = xstrdup(var), *x = xstrdup(val);
	const char *current = config_get(c, v);
	char *old = xstrdup(current ? current : "");
	if (dispatch(H_OnSetConfig, g.w.pack("sssssl", g.botname, c, v, x, old, -1L), MODE_GENERIC,
		     NULL, NULL)) {
		config_put(c, v, x);
		hs_record("CONFIG", 3, c, v, x);
		if (!strcmp(c, "config") && !strcmp(v, "hub_security"))
			fire_script_command("_hub_security_change", x, "", "");
		else if (!strcmp(c, "config") && !strcmp(v, "opchat_name"))
			fire_script_command("_opchat_name_change", x, "", "");
	}
	free(c);
	free(v);
	free(x);
	free(old);
	return NULL;
}

CB(GetConfig)
{
	const char *conf, *var, *def;
	(void)id;
	if (!UNPACK(g.gen == 'A' ? "sss" : "ss|s", &conf, &var, &def) || !conf || !var)
		return NULL;
	const char *val = config_get(conf, var);
	if (!val)
		val = def;
	return val ? ret_str(val) : NULL;
}

