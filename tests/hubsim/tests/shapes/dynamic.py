# Shape: the README's dynamic functions: vh.CallDynamicFunction inside a
# try/except in OnUserLogin (generation A has no such function, and the
# except takes the AttributeError), and in a helper nobody calls at load.
# answers: OnUserLogin
import vh


def OnUserLogin(nick):
    try:
        result = vh.CallDynamicFunction("get_stats", nick)
        if result:
            messages, logins = result
            vh.pm(f"{messages} messages, {logins} logins", nick)
    except Exception as e:
        print(f"get_stats failed: {e}")


def some_function():
    return vh.CallDynamicFunction("add", 10, 20)
