// The one C++ entry point of the contract (docs/abi.md §1.3) and a
// helper for the GeoIP result vector (§6.3, §12), both needing libstdc++
// object layouts that only C++ should touch.
#include <cstddef>
#include <string>
#include <vector>

extern "C" {
// Receives one element of the GeoIP vector.
typedef void (*vh_shim_str_sink)(void *ctx, const char *bytes, size_t len);
}

extern "C" std::string vh_cpp_string_list_to_json(const std::vector<std::string> &list);

// One JSON string, as B's rapidjson writes it (json_marshal.cpp).
void vh_json_write_string(std::string &out, const std::string &s);

// Exported under its C++ name nVerliHub::nPythonPlugin::stringListToJson by
// a tail-jump trampoline in src/trampoline.rs (rustc hides the symbols of
// linked archives); same signature, so the jump passes everything through.
//
// JSON array of the given strings, as generation B's plugin expects from
// its GetNickList/GetOpList/GetBotList (docs/abi.md §1.3): ["a","b"], JSON
// escapes for quote, backslash and control bytes, bytes >= 0x80 unchanged.
extern "C" std::string vh_cpp_string_list_to_json(const std::vector<std::string> &list)
{
	std::string out = "[";
	bool first = true;
	for (const std::string &item : list) {
		if (!first)
			out += ',';
		first = false;
		vh_json_write_string(out, item);
	}
	out += ']';
	return out;
}


// Hands every string of a GeoIP `std::vector<std::string>*` to `sink`, then
// deletes the vector: it is owned by the receiver (docs/abi.md §6.3 GetGeoIP).
extern "C" void vh_shim_geo_take(void *vec, vh_shim_str_sink sink, void *ctx)
{
	auto *v = static_cast<std::vector<std::string> *>(vec);
	if (v == nullptr)
		return;
	for (const std::string &s : *v)
		sink(ctx, s.data(), s.size());
	delete v;
}
