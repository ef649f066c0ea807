# Shape: the README's "Encoding/Decoding Utilities": vh.Encode and
# vh.Decode at import, with an assert that one undoes the other. These
# are python_pi 1.7's names; 1.6 has encode/decode, and vh-runner gives
# A's scripts B's names too, in both workers (docs/compatibility.md), so
# this loads under both generations.
# answers: OnParsedMsgChat
import vh

original = "Test$Message|With`Special~Chars"
encoded = vh.Encode(original)
decoded = vh.Decode(encoded)
assert decoded == original


def OnParsedMsgChat(nick, message):
    return 1
