// A C++ caller of generation B's JSON helpers (docs/abi.md §1.3), for
// abi_exports.rs: built against B's own header when the test has B's
// sources (VH_B_HEADER), else against the value struct as B's header lays it
// out; it dlopens the wrapper given on its command line, calls each helper
// by its C++ name and prints what came back, one line per call.
#include <dlfcn.h>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#ifdef VH_B_HEADER
#include VH_B_HEADER
#else
namespace nVerliHub {
namespace nPythonPlugin {
enum class JsonType { NULL_TYPE, BOOL, INT, DOUBLE, STRING, ARRAY, OBJECT, SET, TUPLE };
struct JsonValue {
	JsonType type;
	bool bool_val;
	int64_t int_val;
	double double_val;
	std::string string_val;
	std::vector<JsonValue> array_val;
	std::map<std::string, JsonValue> object_val;
	std::set<JsonValue> set_val;
	std::vector<JsonValue> tuple_val;
	JsonValue() : type(JsonType::NULL_TYPE), bool_val(false), int_val(0), double_val(0.0) {}
	bool operator<(const JsonValue &o) const { return type < o.type; }
};
} // namespace nPythonPlugin
} // namespace nVerliHub
#endif

using nVerliHub::nPythonPlugin::JsonType;
using nVerliHub::nPythonPlugin::JsonValue;
using Map = std::map<std::string, std::string>;

int main(int argc, char **argv)
{
	void *lib = argc > 1 ? dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL) : nullptr;
	if (!lib) {
		std::fprintf(stderr, "json_probe: %s\n", dlerror());
		return 1;
	}
	auto parse = reinterpret_cast<bool (*)(const std::string &, JsonValue &)>(
		dlsym(lib, "_ZN9nVerliHub13nPythonPlugin9parseJsonERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERNS0_9JsonValueE"));
	auto to_text = reinterpret_cast<std::string (*)(const JsonValue &, bool)>(
		dlsym(lib, "_ZN9nVerliHub13nPythonPlugin12toJsonStringB5cxx11ERKNS0_9JsonValueEb"));
	auto to_list = reinterpret_cast<std::vector<std::string> (*)(const std::string &)>(
		dlsym(lib, "_ZN9nVerliHub13nPythonPlugin16jsonToStringListERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"));
	auto from_map = reinterpret_cast<std::string (*)(const Map &)>(
		dlsym(lib, "_ZN9nVerliHub13nPythonPlugin15stringMapToJsonERKSt3mapINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEES7_St4lessIS7_ESaISt4pairIKS7_S7_EEE"));
	auto to_map = reinterpret_cast<bool (*)(const std::string &, Map &)>(
		dlsym(lib, "_ZN9nVerliHub13nPythonPlugin15jsonToStringMapERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERSt3mapIS6_S6_St4lessIS6_ESaISt4pairIS7_S6_EEE"));
	if (!parse || !to_text || !to_list || !from_map || !to_map) {
		std::fprintf(stderr, "json_probe: a helper is missing\n");
		return 1;
	}
	const char *docs[] = {
		"{\"b\":[1,2.5,\"x\\u00e9\\n\",true,null],\"a\":{\"k\":\"v\"}}",
		"[0.1, 1e30, -0.0, 100.0, 1.5e-7, 0.001, -42, 9223372036854775807]",
		"\"caf\xe9 \\\"q\\\" \\ud83d\\ude00\"",
		"", "[1,", "1 2", "{\"a\" 1}", "18446744073709551615", "[\"\x01\"]", "[1e400]",
	};
	for (const char *doc : docs) {
		JsonValue v;
		bool ok = parse(doc, v);
		std::printf("parse %d %s\n", ok, ok ? to_text(v, false).c_str() : "-");
		if (ok && (v.type == JsonType::OBJECT || v.type == JsonType::ARRAY))
			std::printf("pretty %s\n", to_text(v, true).c_str());
	}
	JsonValue tuple;
	tuple.type = JsonType::TUPLE;
	tuple.tuple_val.resize(2);
	tuple.tuple_val[1].type = JsonType::STRING;
	tuple.tuple_val[1].string_val = "t";
	std::printf("tuple %s\n", to_text(tuple, false).c_str());
	for (const char *doc : { "[\"a\",1,{\"x\":2},null,\"b\xe9\"]", "{\"a\":1}", "",
				 "[18446744073709551615,{\"u\":[18446744073709551615]},2.50]", "[1e400]" }) {
		std::printf("list");
		for (const std::string &s : to_list(doc))
			std::printf(" <%s>", s.c_str());
		std::printf("\n");
	}
	std::printf("map %s\n", from_map(Map{ { "k", "v" }, { "q\"", "\n\xe9" } }).c_str());
	for (const char *doc : { "{\"a\":\"b\",\"n\":3,\"o\":[1]}", "[1]", "" }) {
		Map m{ { "old", "x" } };
		bool ok = to_map(doc, m);
		std::printf("tomap %d", ok);
		for (const auto &kv : m)
			std::printf(" %s=%s", kv.first.c_str(), kv.second.c_str());
		std::printf("\n");
	}
	return 0;
}
