# The command of a test whose tool was not found at configure time: the test
# is registered anyway and fails, saying what is missing, so that a machine
# without the tool cannot report the suite as passed.
#   cmake -DTOOL=<program> -DNEEDED_BY=<what> -P missing_tool.cmake
message(FATAL_ERROR "${TOOL} is not installed (not found when CMake configured this build): ${NEEDED_BY} cannot run. "
                    "Install it and configure again.")
