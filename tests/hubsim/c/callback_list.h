/*
 * The callback table python_pi hands to w_Begin (docs/abi.md §6.1), as an X-macro
 * shared by the simulator (c/callbacks.c) and the plugin faces (c/plugin_face.c).
 *
 *   X(Name, a_index, b_index)   a callback both plugin generations fill in
 *   XB(Name, b_index)           a callback only generation B has (GetIPCity)
 *
 * The C function of each entry is named `_<Name>`, like the plugin's exported symbols.
 * Indices not listed stay NULL: A 42..44 and 56..99, B 43..45 and 57..99
 * (SQLQuery/SQLFetch/SQLFree are never filled in by either plugin).
 */
#ifndef HUBSIM_CALLBACK_LIST_H
#define HUBSIM_CALLBACK_LIST_H

/* Number of callbacks generation B fills in; B indices run 0..56. */
#define HUBSIM_CB_COUNT 57

#define HUBSIM_CALLBACKS(X, XB)      \
	X(SendToOpChat, 0, 0)            \
	X(SendToActive, 1, 1)            \
	X(SendToPassive, 2, 2)           \
	X(SendToActiveClass, 3, 3)       \
	X(SendToPassiveClass, 4, 4)      \
	X(SendDataToUser, 5, 5)          \
	X(SendDataToAll, 6, 6)           \
	X(SendPMToAll, 7, 7)             \
	X(CloseConnection, 8, 8)         \
	X(GetMyINFO, 9, 9)               \
	X(SetMyINFO, 10, 10)             \
	X(GetUserClass, 11, 11)          \
	X(GetUserHost, 12, 12)           \
	X(GetUserIP, 13, 13)             \
	X(SetUserIP, 14, 14)             \
	X(SetMyINFOFlag, 15, 15)         \
	X(UnsetMyINFOFlag, 16, 16)       \
	X(GetUserHubURL, 17, 17)         \
	X(GetUserExtJSON, 18, 18)        \
	X(GetUserCC, 19, 19)             \
	X(GetIPCC, 20, 20)               \
	X(GetIPCN, 21, 21)               \
	XB(GetIPCity, 22)                \
	X(GetIPASN, 22, 23)              \
	X(GetGeoIP, 23, 24)              \
	X(GetNickList, 24, 25)           \
	X(GetOpList, 25, 26)             \
	X(GetBotList, 26, 27)            \
	X(AddRegUser, 27, 28)            \
	X(DelRegUser, 28, 29)            \
	X(SetRegClass, 29, 30)           \
	X(Ban, 30, 31)                   \
	X(KickUser, 31, 32)              \
	X(DelNickTempBan, 32, 33)        \
	X(DelIPTempBan, 33, 34)          \
	X(ParseCommand, 34, 35)          \
	X(ScriptCommand, 35, 36)         \
	X(SetConfig, 36, 37)             \
	X(GetConfig, 37, 38)             \
	X(IsRobotNickBad, 38, 39)        \
	X(AddRobot, 39, 40)              \
	X(DelRobot, 40, 41)              \
	X(SQL, 41, 42)                   \
	X(GetServFreq, 45, 46)           \
	X(GetUsersCount, 46, 47)         \
	X(GetTotalShareSize, 47, 48)     \
	X(UserRestrictions, 48, 49)      \
	X(Topic, 49, 50)                 \
	X(mc, 50, 51)                    \
	X(usermc, 51, 52)                \
	X(classmc, 52, 53)               \
	X(pm, 53, 54)                    \
	X(name_and_version, 54, 55)      \
	X(StopHub, 55, 56)

#endif
