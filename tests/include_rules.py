"""The include rules the tree keeps (issue 21), checked on the sources:

1. The lws plugins reach the core through its ports (core/transport_port.h
   for connections, core/vhost.h for the operator's side), never through
   core/node.h, and none of the core's backends' headers (<ev.h>, hiredis,
   libpq) reaches them, not even by way of another header.
2. Folders include downward only: protocols/ includes nothing of core/ or
   lws-plugins/; core/ nothing of lws-plugins/; core/postgres/ nothing of
   core/redis/ and the reverse (core/handoff/ joins the two).
3. No include circle among the project's files.

Follows every quoted #include, resolving it as the build does (the file's
own directory, then core/, its backend folders, protocols/); a header not
found there (a generated one, a system one) is not followed.

Usage: include_rules.py SOURCE_DIR. Exit 1, naming the chain, when a rule
is broken.
"""
import os
import re
import sys

QUOTED = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ANGLED = re.compile(r'^\s*#\s*include\s+<([^>]+)>', re.M)
SEARCH = ["core", "core/redis", "core/postgres", "core/handoff", "protocols"]
FOLDERS = ["protocols", "core", "lws-plugins", "tools"]
FORBIDDEN = {"core/node.h": "the plugins use core/transport_port.h and core/vhost.h"}
FORBIDDEN_SYSTEM = {"ev.h": "libev stays behind core/ev_loop.h", "hiredis/": "hiredis stays inside core/redis",
                    "libpq-fe.h": "libpq stays inside core/postgres"}
# (folder, folder it must not include): the arrows that would run upward or sideways.
NOT_INCLUDED = [("protocols", "core"), ("protocols", "lws-plugins"), ("core", "lws-plugins"),
                ("core/postgres", "core/redis"), ("core/redis", "core/postgres"),
                ("core/redis", "core/handoff"), ("core/postgres", "core/handoff")]


def resolve(root, including, name):
    for d in [os.path.dirname(including)] + [os.path.join(root, s) for s in SEARCH]:
        path = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(path):
            return path
    return None


def sources(root, folder):
    out = []
    for d, _, files in os.walk(os.path.join(root, folder)):
        out += [os.path.join(d, f) for f in files if f.endswith((".h", ".cpp", ".c"))]
    return sorted(out)


def read(path, pattern):
    with open(path, errors="replace") as text:
        return pattern.findall(text.read())


def in_folder(root, path, folder):
    return os.path.relpath(path, root).startswith(folder + "/")


def main():
    root = os.path.abspath(sys.argv[1])
    rel = lambda p: os.path.relpath(p, root)
    edges = {}
    for folder in FOLDERS:
        for f in sources(root, folder):
            edges[f] = [p for p in (resolve(root, f, n) for n in read(f, QUOTED)) if p]
    failed = False

    # 1. What each plugin file reaches.
    plugins = sources(root, "lws-plugins")
    for start in plugins:
        seen = {start: None}  # file -> the file that included it
        todo = [start]
        while todo:
            f = todo.pop()
            for path in edges.get(f) or [p for p in (resolve(root, f, n) for n in read(f, QUOTED)) if p]:
                if path not in seen:
                    seen[path] = f
                    todo.append(path)

        def chain(at):
            out = []
            while at:
                out.append(rel(at))
                at = seen[at]
            return " <- ".join(out)

        for bad, why in FORBIDDEN.items():
            path = os.path.join(root, bad)
            if path in seen:
                print("%s reaches %s (%s): %s" % (rel(start), bad, why, chain(path)))
                failed = True
        for f in seen:
            for name in read(f, ANGLED):
                for bad, why in FORBIDDEN_SYSTEM.items():
                    if name == bad or (bad.endswith("/") and name.startswith(bad)):
                        print("%s reaches <%s> (%s): %s" % (rel(start), name, why, chain(f)))
                        failed = True

    # 2. Folders include downward only.
    for f, targets in edges.items():
        for t in targets:
            for low, high in NOT_INCLUDED:
                if in_folder(root, f, low) and in_folder(root, t, high):
                    print("%s includes %s: %s/ must not include %s/" % (rel(f), rel(t), low, high))
                    failed = True

    # 3. No circle.
    state = {}  # file -> 1 on the stack, 2 done

    def visit(f, stack):
        nonlocal failed
        state[f] = 1
        stack.append(f)
        for t in edges.get(f, []):
            if state.get(t) == 1:
                print("include circle: %s" % " -> ".join(rel(x) for x in stack[stack.index(t):] + [t]))
                failed = True
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[f] = 2

    sys.setrecursionlimit(10000)
    for f in sorted(edges):
        if f not in state:
            visit(f, [])
    print("%d plugin files and %d files in all checked" % (len(plugins), len(edges)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
