/*
 * The hubsim command line (README.md, "CLI").
 */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static void usage(FILE *out)
{
	fputs("usage: hubsim --shim PATH [--gen A|B] [--encoding ENC] [--script FILE]...\n"
	      "              [--config CONF VAR VALUE]... [--quiet] [--speed X] TRANSCRIPT\n"
	      "\n"
	      "Loads the wrapper library PATH as Verlihub's python_pi plugin of generation A\n"
	      "(1.6.0.0, default) or B (PR 214) would, loads each script, replays TRANSCRIPT and\n"
	      "prints what the hub would send, one record per line, in UTF-8.\n"
	      "\n"
	      "  --shim PATH          the libvh_python_wrapper.so to test\n"
	      "  --gen A|B            plugin generation to simulate (default A)\n"
	      "  --encoding ENC       hub encoding (iconv name, default CP1252); also sets\n"
	      "                       config hub_encoding\n"
	      "  --script FILE        load a script before the replay (repeatable)\n"
	      "  --config C V VALUE   set hub configuration variable V of config C (repeatable)\n"
	      "  --quiet              print only the summary line\n"
	      "  --speed X            replay X transcript seconds per real second (default 0:\n"
	      "                       no pauses)\n"
	      "  --abi SCENARIO       instead of a transcript: the raw C calls of one scenario\n"
	      "                       of c/abi_callers.c, one `ABI key value` line each\n"
	      "  --close-std          (with --abi) close fds 0, 1 and 2 before opening the hub\n"
	      "  --help               show this help\n"
	      "\n"
	      "Environment: HUBSIM_LOG_LEVEL (plugin log level, default 1), HUBSIM_CONFIG_DIR\n"
	      "(hub config directory, default /tmp), HUBSIM_FACE_DIR, HUBSIM_NO_FACE.\n",
	      out);
}

/* `--abi SCENARIO`: the raw C calls of abi_callers.c instead of a transcript. */
static int run_abi(const char *shim, char generation, const char *scenario,
		   const char *const *scripts, size_t n, int close_std)
{
	if (close_std) {
		const char *out = getenv("HUBSIM_ABI_OUT");
		if (!out || !*out) {
			fputs("hubsim: --close-std needs HUBSIM_ABI_OUT\n", stderr);
			return 2;
		}
		/* The output file first (fd >= 3), then the hub runs with 0, 1, 2 closed. */
		if (!abi_open_out())
			return 1;
		close(0);
		close(1);
		close(2);
	}
	if (hubsim_open(shim, generation)) {
		fprintf(stderr, "hubsim: %s\n", hubsim_last_error());
		return 1;
	}
	int status = abi_run(scenario, scripts, n);
	hubsim_close();
	return status;
}

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "hubsim: %s%s\n", msg, arg ? arg : "");
	usage(stderr);
	return 2;
}

int hubsim_main(int argc, char **argv)
{
	const char *shim = NULL, *encoding = "CP1252", *transcript = NULL, *abi = NULL;
	char generation = 'A';
	int quiet = 0, options = 1, close_std = 0;
	VEC(const char *) scripts = { 0 };
	VEC(char **) configs = { 0 };
	int status = 2;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int left = argc - i - 1;
		if (options && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			usage(stdout);
			status = 0;
			goto out;
		} else if (options && !strcmp(a, "--shim") && left >= 1) {
			shim = argv[++i];
		} else if (options && !strcmp(a, "--gen") && left >= 1) {
			a = argv[++i];
			if (strcmp(a, "A") && strcmp(a, "a") && strcmp(a, "B") && strcmp(a, "b")) {
				status = usage_error("--gen must be A or B, not ", a);
				goto out;
			}
			generation = (char)(a[0] & ~0x20);
		} else if (options && !strcmp(a, "--encoding") && left >= 1) {
			encoding = argv[++i];
		} else if (options && !strcmp(a, "--script") && left >= 1) {
			VEC_PUSH(scripts, argv[++i]);
		} else if (options && !strcmp(a, "--config") && left >= 3) {
			VEC_PUSH(configs, &argv[i + 1]);
			i += 3;
		} else if (options && !strcmp(a, "--abi") && left >= 1) {
			abi = argv[++i];
		} else if (options && !strcmp(a, "--close-std")) {
			close_std = 1;
		} else if (options && (!strcmp(a, "--quiet") || !strcmp(a, "-q"))) {
			quiet = 1;
		} else if (options && !strcmp(a, "--speed") && left >= 1) {
			char *end;
			g.speed = strtod(argv[++i], &end);
			if (*end || g.speed < 0) {
				status = usage_error("--speed must be a number >= 0, not ", argv[i]);
				goto out;
			}
		} else if (options && !strcmp(a, "--")) {
			options = 0;
		} else if (options && a[0] == '-' && a[1]) {
			status = usage_error("unknown option or missing value: ", a);
			goto out;
		} else if (!transcript) {
			transcript = a;
		} else {
			status = usage_error("more than one transcript: ", a);
			goto out;
		}
	}
	if (shim && abi) {
		status = run_abi(shim, generation, abi, scripts.v, scripts.n, close_std);
		goto out;
	}
	if (!shim || !transcript) {
		status = usage_error(!shim ? "--shim is required" : "a TRANSCRIPT is required", NULL);
		goto out;
	}
	iconv_t display = iconv_open("UTF-8", encoding);
	if (display == (iconv_t)-1) {
		status = usage_error("unknown encoding ", encoding);
		goto out;
	}

	status = 1;
	if (hubsim_open(shim, generation)) {
		fprintf(stderr, "hubsim: %s\n", hubsim_last_error());
		iconv_close(display);
		goto out;
	}
	for (size_t i = 0; i < configs.n; i++)
		hubsim_set_config(configs.v[i][0], configs.v[i][1], configs.v[i][2]);
	hubsim_set_config("config", "hub_encoding", encoding);

	g.echo = !quiet;
	g.echo_cd = display;
	int events = 0;
	for (size_t i = 0; i < scripts.n && events >= 0; i++) {
		int id = hubsim_load(scripts.v[i]);
		if (id < 0) {
			fprintf(stderr, "hubsim: cannot load %s: %s\n", scripts.v[i], hubsim_last_error());
			events = -2;
		} else if (!quiet) {
			printf("loaded %s as #%d\n", scripts.v[i], id);
		}
	}
	if (events == 0) {
		events = hubsim_replay(transcript, encoding, quiet);
		if (events < 0)
			fprintf(stderr, "hubsim: %s\n", hubsim_last_error());
	}
	if (events >= 0) {
		printf("hubsim: %d events, %zu records, %zu blocked\n", events, hubsim_record_count(),
		       hubsim_replay_blocked());
		status = 0;
	}
	fflush(stdout);
	g.echo = 0;
	g.echo_cd = NULL;
	hubsim_close();
	iconv_close(display);
out:
	free(scripts.v);
	free(configs.v);
	return status;
}
