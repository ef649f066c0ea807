# Fails at load with an exception whose text is CP1251 bytes (Python 2).
print "bad_load2 loading"
raise ValueError("\xc8\xe2\xe0\xed is not welcome")
