"""The include rules the tree keeps (issue 21): the lws plugins reach the
core through its ports (core/transport_port.h for connections, core/vhost.h
for the operator's side), never through core/node.h, not even by way of
another header. Follows every quoted #include from each file under
lws-plugins/, resolving it as the build does (the file's own directory,
then core/, core/redis/, core/postgres/, protocols/); a header not found
there (a generated one, a system one) is not followed.

Usage: include_rules.py SOURCE_DIR. Exit 1, naming the chain, when a plugin
file reaches a forbidden header.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SEARCH = ["core", "core/redis", "core/postgres", "protocols"]
FORBIDDEN = {"core/node.h": "the plugins use core/transport_port.h and core/vhost.h"}


def resolve(root, including, name):
    for d in [os.path.dirname(including)] + [os.path.join(root, s) for s in SEARCH]:
        path = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(path):
            return path
    return None


def main():
    root = os.path.abspath(sys.argv[1])
    plugins = os.path.join(root, "lws-plugins")
    starts = sorted(os.path.join(plugins, f) for f in os.listdir(plugins) if f.endswith((".h", ".cpp")))
    failed = False
    for start in starts:
        seen = {start: None}  # file -> the file that included it
        todo = [start]
        while todo:
            f = todo.pop()
            with open(f, errors="replace") as text:
                names = INCLUDE.findall(text.read())
            for name in names:
                path = resolve(root, f, name)
                if path and path not in seen:
                    seen[path] = f
                    todo.append(path)
        for bad, why in FORBIDDEN.items():
            path = os.path.join(root, bad)
            if path in seen:
                chain, at = [], path
                while at:
                    chain.append(os.path.relpath(at, root))
                    at = seen[at]
                print("%s reaches %s (%s): %s" % (os.path.relpath(start, root), bad, why, " <- ".join(chain)))
                failed = True
    print("%d plugin files checked" % len(starts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
