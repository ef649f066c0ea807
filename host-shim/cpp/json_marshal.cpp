// The C++ JSON helpers generation B's wrapper exports besides stringListToJson
// (docs/abi.md §1.3, §2): a program built against B's JSON header links and
// runs against the shim. Same names, signatures and value struct; the code is
// the shim's own (no JSON library): RFC 8259 parsing, compact or 4-space
// indented output, hub bytes >= 0x80 passed through unchanged both ways.
//
// Exported under their C++ names by the trampolines of src/trampoline.rs,
// which jump to the extern "C" functions at the end of this file.
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace nVerliHub {
namespace nPythonPlugin {

// The kinds of value B's helpers pass around, in B's order (the numbers are
// part of the struct's meaning for callers built against B's header).
enum class JsonType { NULL_TYPE, BOOL, INT, DOUBLE, STRING, ARRAY, OBJECT, SET, TUPLE };

// One JSON value, laid out member for member as B's header declares it, so
// that a caller's object and ours are the same bytes: the kind, then one
// field per kind (only the one `type` names is meaningful).
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
	// Any strict order will do for the shim's own sets: by kind, then value.
	bool operator<(const JsonValue &o) const
	{
		if (type != o.type)
			return type < o.type;
		switch (type) {
		case JsonType::BOOL: return bool_val < o.bool_val;
		case JsonType::INT: return int_val < o.int_val;
		case JsonType::DOUBLE: return double_val < o.double_val;
		case JsonType::STRING: return string_val < o.string_val;
		case JsonType::ARRAY: return array_val < o.array_val;
		case JsonType::OBJECT: return object_val < o.object_val;
		case JsonType::SET: return set_val < o.set_val;
		case JsonType::TUPLE: return tuple_val < o.tuple_val;
		default: return false;
		}
	}
};

} // namespace nPythonPlugin
} // namespace nVerliHub

using nVerliHub::nPythonPlugin::JsonType;
using nVerliHub::nPythonPlugin::JsonValue;

// A JSON string as rapidjson's Writer, which B's helpers use, writes it:
// quote, backslash and control bytes escaped (uppercase \u00XX), bytes
// >= 0x80 unchanged. Also stringListToJson's (string_list.cpp).
void vh_json_write_string(std::string &out, const std::string &s)
{
	static const char hex[] = "0123456789ABCDEF";
	out += '"';
	for (unsigned char c : s) {
		switch (c) {
		case '"': out += "\\\""; break;
		case '\\': out += "\\\\"; break;
		case '\b': out += "\\b"; break;
		case '\f': out += "\\f"; break;
		case '\n': out += "\\n"; break;
		case '\r': out += "\\r"; break;
		case '\t': out += "\\t"; break;
		default:
			if (c < 0x20) {
				out += "\\u00";
				out += hex[c >> 4];
				out += hex[c & 15];
			} else {
				out += static_cast<char>(c);
			}
		}
	}
	out += '"';
}

namespace {

// A recursive-descent reader over one document.
struct Reader {
	const std::string &text;
	size_t at = 0;
	bool wide_unsigned = false; // an integer only uint64 holds: B's parseJson refuses it
	int depth = 0;

	void space()
	{
		while (at < text.size() && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
			at++;
	}
	bool word(const char *w)
	{
		size_t n = std::char_traits<char>::length(w);
		if (text.compare(at, n, w) != 0)
			return false;
		at += n;
		return true;
	}
	static void utf8(std::string &out, uint32_t cp)
	{
		if (cp < 0x80) {
			out += static_cast<char>(cp);
		} else if (cp < 0x800) {
			out += static_cast<char>(0xc0 | (cp >> 6));
			out += static_cast<char>(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out += static_cast<char>(0xe0 | (cp >> 12));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
			out += static_cast<char>(0x80 | (cp & 0x3f));
		} else {
			out += static_cast<char>(0xf0 | (cp >> 18));
			out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
			out += static_cast<char>(0x80 | (cp & 0x3f));
		}
	}
	bool hex4(uint32_t &v)
	{
		if (at + 4 > text.size())
			return false;
		v = 0;
		for (int i = 0; i < 4; i++) {
			char c = text[at++];
			v <<= 4;
			if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
			else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
			else return false;
		}
		return true;
	}
	bool string(std::string &out)
	{
		if (at >= text.size() || text[at] != '"')
			return false;
		at++;
		while (at < text.size()) {
			unsigned char c = static_cast<unsigned char>(text[at++]);
			if (c == '"')
				return true;
			if (c < 0x20)
				return false;
			if (c != '\\') {
				out += static_cast<char>(c);
				continue;
			}
			if (at >= text.size())
				return false;
			char e = text[at++];
			uint32_t cp;
			switch (e) {
			case '"': out += '"'; break;
			case '\\': out += '\\'; break;
			case '/': out += '/'; break;
			case 'b': out += '\b'; break;
			case 'f': out += '\f'; break;
			case 'n': out += '\n'; break;
			case 'r': out += '\r'; break;
			case 't': out += '\t'; break;
			case 'u':
				if (!hex4(cp))
					return false;
				if (cp >= 0xd800 && cp < 0xdc00) {
					uint32_t low;
					if (!word("\\u") || !hex4(low) || low < 0xdc00 || low > 0xdfff)
						return false;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					return false;
				}
				utf8(out, cp);
				break;
			default: return false;
			}
		}
		return false;
	}
	bool number(JsonValue &v)
	{
		size_t start = at;
		bool integral = true;
		if (at < text.size() && text[at] == '-')
			at++;
		if (at >= text.size() || text[at] < '0' || text[at] > '9')
			return false;
		if (text[at] == '0')
			at++;
		else
			while (at < text.size() && text[at] >= '0' && text[at] <= '9')
				at++;
		if (at < text.size() && text[at] == '.') {
			integral = false;
			if (++at >= text.size() || text[at] < '0' || text[at] > '9')
				return false;
			while (at < text.size() && text[at] >= '0' && text[at] <= '9')
				at++;
		}
		if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
			integral = false;
			if (++at < text.size() && (text[at] == '+' || text[at] == '-'))
				at++;
			if (at >= text.size() || text[at] < '0' || text[at] > '9')
				return false;
			while (at < text.size() && text[at] >= '0' && text[at] <= '9')
				at++;
		}
		std::string token = text.substr(start, at - start);
		if (integral) {
			errno = 0;
			char *end = nullptr;
			long long n = std::strtoll(token.c_str(), &end, 10);
			if (errno == 0) {
				v.type = JsonType::INT;
				v.int_val = n;
				return true;
			}
			errno = 0;
			std::strtoull(token.c_str(), &end, 10);
			if (errno == 0 && token[0] != '-') {
				// Kept as its digits for the text of a list or map item.
				wide_unsigned = true;
				v.string_val = token;
			}
		}
		v.type = JsonType::DOUBLE;
		v.double_val = std::strtod(token.c_str(), nullptr);
		return std::isfinite(v.double_val); // beyond a double: malformed
	}
	bool value(JsonValue &v)
	{
		space();
		if (at >= text.size() || ++depth > 512)
			return false;
		bool ok = false;
		char c = text[at];
		if (c == 'n') {
			ok = word("null");
		} else if (c == 't' || c == 'f') {
			ok = word(c == 't' ? "true" : "false");
			v.type = JsonType::BOOL;
			v.bool_val = c == 't';
		} else if (c == '"') {
			v.type = JsonType::STRING;
			ok = string(v.string_val);
		} else if (c == '[') {
			v.type = JsonType::ARRAY;
			ok = array(v.array_val);
		} else if (c == '{') {
			v.type = JsonType::OBJECT;
			ok = object(v.object_val);
		} else {
			ok = number(v);
		}
		depth--;
		return ok;
	}
	bool array(std::vector<JsonValue> &out)
	{
		at++;
		space();
		if (at < text.size() && text[at] == ']')
			return ++at, true;
		for (;;) {
			out.emplace_back();
			if (!value(out.back()))
				return false;
			space();
			if (at < text.size() && text[at] == ',') {
				at++;
				continue;
			}
			return at < text.size() && text[at++] == ']';
		}
	}
	bool object(std::map<std::string, JsonValue> &out)
	{
		at++;
		space();
		if (at < text.size() && text[at] == '}')
			return ++at, true;
		for (;;) {
			std::string key;
			space();
			if (!string(key))
				return false;
			space();
			if (at >= text.size() || text[at++] != ':')
				return false;
			JsonValue v;
			if (!value(v))
				return false;
			out[key] = v; // a repeated key: the last one wins
			space();
			if (at < text.size() && text[at] == ',') {
				at++;
				continue;
			}
			return at < text.size() && text[at++] == '}';
		}
	}
	// The whole text as one value, nothing but white space after it.
	bool document(JsonValue &v)
	{
		if (!value(v))
			return false;
		space();
		return at == text.size();
	}
};

// The shortest digits that read back as `d`, written in decimal notation
// for exponents from -6 to 20 and with an exponent otherwise, always with a
// '.' or an exponent ("100.0", "0.001", "1e30", "1.5e-7"); NaN and the
// infinities, which JSON lacks, as null.
void write_double(std::string &out, double d)
{
	if (!std::isfinite(d)) {
		out += "null";
		return;
	}
	char buf[40];
	for (int precision = 0; precision <= 16; precision++) {
		std::snprintf(buf, sizeof buf, "%.*e", precision, d);
		if (std::strtod(buf, nullptr) == d)
			break;
	}
	std::string t = buf, digits;
	size_t e = t.find('e');
	for (size_t i = 0; i < e; i++)
		if (t[i] >= '0' && t[i] <= '9')
			digits += t[i];
	while (digits.size() > 1 && digits.back() == '0')
		digits.pop_back();
	int point = std::atoi(t.c_str() + e + 1) + 1; // digits before the decimal point
	int n = static_cast<int>(digits.size());
	if (t[0] == '-')
		out += '-';
	if (point > 0 && point <= 21) {
		if (n <= point)
			out += digits + std::string(static_cast<size_t>(point - n), '0') + ".0";
		else
			out += digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
	} else if (point > -6 && point <= 0) {
		out += "0." + std::string(static_cast<size_t>(-point), '0') + digits;
	} else {
		out += digits.substr(0, 1);
		if (n > 1)
			out += "." + digits.substr(1);
		out += "e" + std::to_string(point - 1);
	}
}

void write(std::string &out, const JsonValue &v, int indent, int level, bool digits = false);

template <typename Items, typename Each>
void write_items(std::string &out, const Items &items, char open, char close, int indent, int level, Each each)
{
	out += open;
	if (items.empty()) {
		out += close;
		return;
	}
	bool first = true;
	for (const auto &item : items) {
		if (!first)
			out += ',';
		first = false;
		if (indent) {
			out += '\n';
			out.append(static_cast<size_t>(indent * (level + 1)), ' ');
		}
		each(item);
	}
	if (indent) {
		out += '\n';
		out.append(static_cast<size_t>(indent * level), ' ');
	}
	out += close;
}

// `digits`: a number the reader kept as its digits (an integer only uint64
// holds) is written as those digits (only for values the reader made).
void write(std::string &out, const JsonValue &v, int indent, int level, bool digits)
{
	auto element = [&](const JsonValue &x) { write(out, x, indent, level + 1, digits); };
	switch (v.type) {
	case JsonType::NULL_TYPE: out += "null"; break;
	case JsonType::BOOL: out += v.bool_val ? "true" : "false"; break;
	case JsonType::INT: out += std::to_string(v.int_val); break;
	case JsonType::DOUBLE:
		if (digits && !v.string_val.empty())
			out += v.string_val;
		else
			write_double(out, v.double_val);
		break;
	case JsonType::STRING: vh_json_write_string(out, v.string_val); break;
	case JsonType::ARRAY: write_items(out, v.array_val, '[', ']', indent, level, element); break;
	case JsonType::TUPLE: write_items(out, v.tuple_val, '[', ']', indent, level, element); break;
	case JsonType::SET: write_items(out, v.set_val, '[', ']', indent, level, element); break;
	case JsonType::OBJECT:
		write_items(out, v.object_val, '{', '}', indent, level,
			    [&](const std::pair<const std::string, JsonValue> &kv) {
				    vh_json_write_string(out, kv.first);
				    out += indent ? ": " : ":";
				    write(out, kv.second, indent, level + 1, digits);
			    });
		break;
	}
}

// A value as the text a list or map of strings holds: strings as they are,
// anything else as its compact JSON.
std::string as_text(const JsonValue &v)
{
	if (v.type == JsonType::STRING)
		return v.string_val;
	std::string out;
	write(out, v, 0, 0, true);
	return out;
}

} // namespace

// parseJson(const std::string&, JsonValue&): true and the value for a
// well-formed document; false for an empty or malformed one, or an integer
// beyond int64 that only uint64 holds.
extern "C" bool vh_cpp_parse_json(const std::string &text, JsonValue &out)
{
	if (text.empty())
		return false;
	Reader r{text};
	JsonValue v;
	if (!r.document(v) || r.wide_unsigned)
		return false;
	out = v;
	return true;
}

// toJsonString(const JsonValue&, bool pretty): compact, or indented by four
// spaces; tuples and sets as arrays.
extern "C" std::string vh_cpp_to_json_string(const JsonValue &value, bool pretty)
{
	std::string out;
	write(out, value, pretty ? 4 : 0, 0);
	return out;
}

// jsonToStringList(const std::string&): the items of a JSON array as text
// (non-strings as their JSON); empty for anything else.
extern "C" std::vector<std::string> vh_cpp_json_to_string_list(const std::string &text)
{
	std::vector<std::string> out;
	Reader r{text};
	JsonValue v;
	if (text.empty() || !r.document(v) || v.type != JsonType::ARRAY)
		return out;
	for (const JsonValue &item : v.array_val)
		out.push_back(as_text(item));
	return out;
}

// stringMapToJson(const std::map<std::string, std::string>&): a JSON object.
extern "C" std::string vh_cpp_string_map_to_json(const std::map<std::string, std::string> &map)
{
	JsonValue v;
	v.type = JsonType::OBJECT;
	for (const auto &kv : map) {
		JsonValue s;
		s.type = JsonType::STRING;
		s.string_val = kv.second;
		v.object_val[kv.first] = s;
	}
	std::string out;
	write(out, v, 0, 0);
	return out;
}

// jsonToStringMap(const std::string&, std::map<...>&): true and the members
// of a JSON object as text (non-strings as their JSON), the map cleared
// first; false (map untouched) for anything else.
extern "C" bool vh_cpp_json_to_string_map(const std::string &text, std::map<std::string, std::string> &out)
{
	Reader r{text};
	JsonValue v;
	if (text.empty() || !r.document(v) || v.type != JsonType::OBJECT)
		return false;
	out.clear();
	for (const auto &kv : v.object_val)
		out[kv.first] = as_text(kv.second);
	return true;
}
