/*
 * The hub services python_pi offers to the wrapper, part 1: sending, users, lists. One
 * `_<Name>` function per callback, with the plugin's unpack format and result format
 * (docs/abi.md §6.3), acting on the simulated hub. Arguments are read only through the wrapper's
 * w_unpack; results are built with its w_pack, strings in results strdup'ed (owned by the
 * receiver). NULL means failure. The `id` argument is the calling script's id (B wrappers
 * pass the callback index instead, §6.2). Part 2 is callbacks_hub.c; the table is built in
 * callback_table.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

w_Targs *ret_long(long n)
{
	return g.w.pack("l", n);
}

w_Targs *ret_str(const char *s)
{
	return g.w.pack("s", xstrdup(s));
}

struct member *user_find(const char *nick)
{
	struct member *m = member_find(nick);
	return m && !m->is_bot ? m : NULL;
}

int valid_class(long c)
{
	return (c >= 0 && c <= 5) || c == CLASS_MASTER;
}

/* Raw protocol data to `to` ("*" = broadcast), '|' appended if missing, as the hub sends it. */
static void record_raw(const char *to, const char *data)
{
	size_t n = strlen(data);
	char *line = xstrdup_printf("%s%s", data, n && data[n - 1] == '|' ? "" : "|");
	hs_record("RAW", 2, to, line);
	free(line);
}

/* ---- sending ---- */

CB(SendToOpChat)
{
	const char *text, *from;
	(void)id;
	if (!UNPACK("ss", &text, &from) || !text)
		return NULL;
	hs_record("OPCHAT", 2, user_find(from) ? from : g.opchatname, text);
	return ret_long(1);
}

static w_Targs *send_all(w_Targs *args, const char *fmt)
{
	const char *data;
	long a = 0, b = 0, c = 0;
	int ok = strlen(fmt) == 4 ? UNPACK(fmt, &data, &a, &b, &c) : UNPACK(fmt, &data, &a);
	if (!ok || !data)
		return NULL;
	record_raw("*", data);
	return ret_long(1);
}

CB(SendToActive) { (void)id; return send_all(args, "sl"); }
CB(SendToPassive) { (void)id; return send_all(args, "sl"); }
CB(SendToActiveClass) { (void)id; return send_all(args, "slll"); }
CB(SendToPassiveClass) { (void)id; return send_all(args, "slll"); }
CB(SendDataToAll) { (void)id; return send_all(args, "slll"); }

CB(SendDataToUser)
{
	const char *data, *nick;
	long delay;
	(void)id;
	if (!UNPACK("ssl", &data, &nick, &delay) || !data || !nick || !user_find(nick))
		return NULL;
	record_raw(nick, data);
	return ret_long(1);
}

CB(SendPMToAll)
{
	const char *text, *from;
	long min, max;
	(void)id;
	if (!UNPACK("ssll", &text, &from, &min, &max) || !text || !from)
		return NULL;
	for (size_t i = 0; i < g.members.n; i++) {
		struct member *m = g.members.v[i];
		if (!m->is_bot && m->in_list && m->uclass >= min && m->uclass <= max)
			hs_record("PM", 4, m->nick, from, from, text);
	}
	return ret_long(1);
}

CB(mc)
{
	const char *text, *from;
	(void)id;
	if (!UNPACK("ss", &text, &from) || !text)
		return NULL;
	hs_record("MC", 2, from ? from : g.botname, text);
	return ret_long(1);
}

CB(usermc)
{
	const char *text, *to, *from;
	(void)id;
	if (!UNPACK("sss", &text, &to, &from) || !text || !user_find(to))
		return NULL;
	hs_record("USERMC", 3, to, from ? from : g.botname, text);
	return ret_long(1);
}

CB(classmc)
{
	const char *text, *from;
	long min, max;
	char lo[24], hi[24];
	(void)id;
	if (!UNPACK("slls", &text, &min, &max, &from) || !text)
		return NULL;
	snprintf(lo, sizeof lo, "%ld", min);
	snprintf(hi, sizeof hi, "%ld", max);
	hs_record("CLASSMC", 4, lo, hi, from ? from : g.botname, text);
	return ret_long(1);
}

CB(pm)
{
	const char *text, *to, *from, *display;
	(void)id;
	if (!UNPACK("ssss", &text, &to, &from, &display) || !text || !to)
		return NULL;
	if (!from)
		from = g.botname;
	if (!display)
		display = from;
	if (!user_find(to))
		return NULL;
	hs_record("PM", 4, to, from, display, text);
	return ret_long(1);
}

CB(Topic)
{
	const char *topic;
	(void)id;
	if (!UNPACK("s", &topic))
		return NULL;
	if (topic && strlen(topic) < 1024) {
		config_put("config", "hub_topic", topic);
		hs_record("TOPIC", 1, topic);
	}
	return ret_str(config_get("config", "hub_topic"));
}

CB(StopHub)
{
	long code, delay;
	char c[24], d[24];
	(void)id;
	if (!UNPACK("ll", &code, &delay))
		return NULL;
	snprintf(c, sizeof c, "%ld", code);
	snprintf(d, sizeof d, "%ld", delay);
	hs_record("STOPHUB", 2, c, d);
	return ret_long(1);
}

/* ---- users ---- */

CB(CloseConnection)
{
	const char *nick;
	long delay, reason;
	char text[24];
	(void)id;
	if (!UNPACK("sll", &nick, &delay, &reason) || !nick || !user_find(nick))
		return NULL;
	snprintf(text, sizeof text, "%ld", reason);
	request_close(nick, reason, text);
	return ret_long(1);
}

CB(KickUser)
{
	const char *op, *nick, *why, *addr, *note_op, *note_usr;
	(void)id;
	if (!UNPACK("ssssss", &op, &nick, &why, &addr, &note_op, &note_usr) || !nick ||
	    !user_find(op) || !user_find(nick))
		return NULL;
	char *o = xstrdup(op), *n = xstrdup(nick), *w = xstrdup(why ? why : "");
	int allowed = dispatch(H_OnOperatorKicks, g.w.pack("sss", o, n, w), MODE_GENERIC, o, NULL);
	if (allowed && user_find(n)) {
		hs_record("KICK", 3, o, n, w);
		request_close(n, eCR_KICKED, "kicked");
	}
	free(o);
	free(n);
	free(w);
	return allowed ? ret_long(1) : NULL;
}

CB(GetMyINFO)
{
	const char *nick;
	(void)id;
	struct member *m;
	if (!UNPACK("s", &nick) || !(m = member_find(nick)))
		return NULL;
	return g.w.pack("ssssss", xstrdup(m->nick), xstrdup(m->info[MI_DESC]),
			xstrdup(m->info[MI_TAG]), xstrdup(m->info[MI_SPEED]),
			xstrdup(m->info[MI_EMAIL]), xstrdup(m->info[MI_SHARE]));
}

CB(SetMyINFO)
{
	const char *nick, *f[MI_COUNT];
	struct member *m;
	(void)id;
	if (!UNPACK("ssssss", &nick, &f[0], &f[1], &f[2], &f[3], &f[4]) || !(m = member_find(nick)))
		return NULL;
	for (int i = 0; i < MI_COUNT; i++)
		if (f[i])
			replace_str(&m->info[i], f[i]);
	broadcast_myinfo(m);
	return ret_long(1);
}

/* Sets or clears bits of the NMDC status byte (the last byte of the speed field). */
static w_Targs *myinfo_flag(w_Targs *args, int set)
{
	const char *nick;
	long flag;
	struct member *m;
	if (!UNPACK("sl", &nick, &flag) || flag < 1 || !(m = member_find(nick)))
		return NULL;
	char *speed = m->info[MI_SPEED];
	size_t n = strlen(speed);
	unsigned char status = n && (unsigned char)speed[n - 1] < 0x20 ? (unsigned char)speed[--n] : 1;
	status = set ? (unsigned char)(status | flag) : (unsigned char)((status & ~flag) | 1);
	char *updated = xstrdup_printf("%.*s%c", (int)n, speed, status);
	free(m->info[MI_SPEED]);
	m->info[MI_SPEED] = updated;
	broadcast_myinfo(m);
	return ret_long(1);
}

CB(SetMyINFOFlag) { (void)id; return myinfo_flag(args, 1); }
CB(UnsetMyINFOFlag) { (void)id; return myinfo_flag(args, 0); }

CB(GetUserClass)
{
	const char *nick;
	(void)id;
	if (!UNPACK("s", &nick) || !nick)
		return NULL;
	struct member *m = member_find(nick);
	return ret_long(m ? m->uclass : -2);
}

CB(GetUserIP)
{
	const char *nick;
	(void)id;
	if (!UNPACK("s", &nick) || !nick)
		return NULL;
	struct member *m = member_find(nick);
	return ret_str(!m ? "" : m->is_bot ? "127.0.0.1" : m->ip);
}

CB(SetUserIP)
{
	const char *nick, *ip;
	struct member *m;
	(void)id;
	if (!UNPACK("ss", &nick, &ip) || !ip || !(m = user_find(nick)))
		return NULL;
	replace_str(&m->ip, ip);
	return ret_long(1);
}

CB(GetUserHubURL)
{
	const char *nick;
	(void)id;
	if (!UNPACK("s", &nick) || !nick)
		return NULL;
	struct member *m = member_find(nick);
	return ret_str(m ? m->hub_url : "");
}

/* Lookups that need DNS, GeoIP or ExtJSON data the simulator does not have: "". */
static w_Targs *empty_lookup(w_Targs *args, const char *fmt)
{
	const char *a, *b;
	if (!(fmt[1] ? UNPACK(fmt, &a, &b) : UNPACK(fmt, &a)) || !a)
		return NULL;
	return ret_str("");
}

CB(GetUserHost) { (void)id; return empty_lookup(args, "s"); }
CB(GetUserExtJSON) { (void)id; return empty_lookup(args, "s"); }
CB(GetUserCC) { (void)id; return empty_lookup(args, "s"); }
CB(GetIPCC) { (void)id; return empty_lookup(args, "s"); }
CB(GetIPCN) { (void)id; return empty_lookup(args, "s"); }
CB(GetIPCity) { (void)id; return empty_lookup(args, "ss"); }

/* No GeoIP database: the lookups fail. */
CB(GetIPASN) { (void)id; (void)args; return NULL; }
CB(GetGeoIP) { (void)id; (void)args; return NULL; }

/* ---- lists ---- */

/* A: "$NickList a$$b$$" (prefix + each nick + "$$"); B: JSON array (D). */
static w_Targs *nick_list(const char *prefix, int which)
{
	size_t len = strlen(prefix) + 3;
	for (size_t i = 0; i < g.members.n; i++)
		len += 6 * strlen(g.members.v[i]->nick) + 3;
	char *out = xmalloc(len), *p = out;
	if (g.gen == 'A')
		p = stpcpy(p, prefix);
	else
		*p++ = '[';
	int first = 1;
	for (size_t i = 0; i < g.members.n; i++) {
		const struct member *m = g.members.v[i];
		if (!m->in_list || (which == 1 && m->uclass < CLASS_OPERATOR) || (which == 2 && !m->is_bot))
			continue;
		if (g.gen == 'A') {
			p = stpcpy(stpcpy(p, m->nick), "$$");
			continue;
		}
		if (!first)
			*p++ = ',';
		first = 0;
		*p++ = '"';
		for (const unsigned char *c = (const unsigned char *)m->nick; *c; c++) {
			if (*c == '"' || *c == '\\')
				p += sprintf(p, "\\%c", *c);
			else if (*c < 0x20)
				p += sprintf(p, "\\u%04x", *c);
			else
				*p++ = (char)*c;
		}
		*p++ = '"';
	}
	if (g.gen == 'B')
		*p++ = ']';
	*p = '\0';
	return g.w.pack(g.gen == 'A' ? "s" : "D", out);
}

CB(GetNickList) { (void)id; (void)args; return nick_list("$NickList ", 0); }
CB(GetOpList) { (void)id; (void)args; return nick_list("$OpList ", 1); }
CB(GetBotList) { (void)id; (void)args; return nick_list("$BotList ", 2); }

CB(GetUsersCount)
{
	long n = 0;
	(void)id;
	(void)args;
	for (size_t i = 0; i < g.members.n; i++)
		n += !g.members.v[i]->is_bot && g.members.v[i]->in_list;
	return ret_long(n);
}

CB(GetTotalShareSize)
{
	unsigned long long total = 0;
	char text[32];
	(void)id;
	(void)args;
	for (size_t i = 0; i < g.members.n; i++)
		if (!g.members.v[i]->is_bot && g.members.v[i]->in_list)
			total += strtoull(g.members.v[i]->info[MI_SHARE], NULL, 10);
	snprintf(text, sizeof text, "%llu", total);
	return ret_str(text);
}

CB(GetServFreq)
{
	(void)id;
	(void)args;
	return g.w.pack("d", 1.0);
}

