/*
 * For running generation B's original wrapper under hubsim (abi_callers.rs, preloaded):
 * the hub symbols that wrapper takes from the hub process (docs/abi.md §1.4). `me` is NULL,
 * which makes its text conversions pass bytes through; the converters are never reached.
 */
void *vh_stub_me __asm__("_ZN9nVerliHub13nPythonPlugin9cpiPython2meE") = 0;
void *vh_stub_server __asm__("_ZN9nVerliHub13nPythonPlugin9cpiPython6serverE") = 0;

int vh_stub_convert(void)
	__asm__("_ZN9nVerliHub6nUtils11cICUConvert7ConvertEPKcjRNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKS9_");
int vh_stub_convert(void)
{
	return 0;
}

int vh_stub_convert_reverse(void)
	__asm__("_ZN9nVerliHub6nUtils11cICUConvert14ConvertReverseEPKcjRNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKS9_");
int vh_stub_convert_reverse(void)
{
	return 0;
}
