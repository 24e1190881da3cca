# wfrun notebook support: what IPython syntax becomes when a notebook runs as plain Python.
# `wfrun nb2py` puts this at the top of a converted script (when a cell needs it), and the
# `wfrun nbrun` runner builds on it. Standard library only.
import os as _os
import sys as _sys


class _WfSList(list):
    """The list `x = !cmd` gives, like IPython's SList (.s, .n, .l, .p, .grep, .fields)."""

    @property
    def l(self):
        return list(self)

    @property
    def s(self):
        return " ".join(self)

    @property
    def n(self):
        return "\n".join(self)

    @property
    def p(self):
        return [p for p in self if _os.path.exists(p)]

    def grep(self, pattern, prune=False, field=None):
        import re
        pred = (lambda s: re.search(pattern, s, re.IGNORECASE)) if isinstance(pattern, str) else pattern
        return _WfSList([el for el in self if bool(pred(el)) != prune])

    def fields(self, *fields):
        if not fields:
            return [el.split() for el in self if el.strip()]
        res = _WfSList()
        for el in [f.split() for f in self]:
            picked = [el[i] for i in fields if i < len(el)]
            if picked:
                res.append(" ".join(picked))
        return res


class _WfUsageError(Exception):
    pass


_WfUsageError.__name__ = _WfUsageError.__qualname__ = "UsageError"


class _WfTimeitResult:
    def __init__(self, loops, repeat, all_runs, precision=3):
        self.loops, self.repeat, self.all_runs = loops, repeat, all_runs
        self.timings = [t / loops for t in all_runs]
        self.best, self.worst = min(self.timings), max(self.timings)
        self.average = sum(self.timings) / len(self.timings)
        self.stdev = (sum((t - self.average) ** 2 for t in self.timings) / len(self.timings)) ** 0.5
        self._precision = precision

    def __str__(self):
        return ("{mean} \u00b1 {std} per loop (mean \u00b1 std. dev. of {runs} run{rp}, {loops:,} loop{lp} each)"
                .format(runs=self.repeat, loops=self.loops, lp="" if self.loops == 1 else "s",
                        rp="" if self.repeat == 1 else "s",
                        mean=_wf_format_time(self.average, self._precision),
                        std=_wf_format_time(self.stdev, self._precision)))

    def _repr_pretty_(self, p, cycle):
        p.text("<TimeitResult : " + str(self) + ">")


def _wf_format_time(timespan, precision=3):
    """IPython's time formatting for %time and %timeit."""
    import math
    if timespan >= 60.0:
        parts, out, left = [("d", 86400), ("h", 3600), ("min", 60), ("s", 1)], [], timespan
        for suffix, length in parts:
            value = int(left / length)
            if value > 0:
                left = left % length
                out.append("%s%s" % (value, suffix))
            if left < 1:
                break
        return " ".join(out)
    units = ["s", "ms", "\u00b5s", "ns"]
    scaling = [1, 1e3, 1e6, 1e9]
    order = min(-int(math.floor(math.log10(timespan)) // 3), 3) if timespan > 0.0 else 3
    return "%.*g %s" % (precision, timespan * scaling[order], units[order])


class _WfShell:
    """Runs what IPython syntax turned into: shell escapes, line and cell magics."""

    def __init__(self):
        self.user_ns = None  # set by the runner; else the caller's globals
        self.magics = {"line": {}, "cell": {}}
        self.figure_formats = {"png"}
        self.xmode = "Context"
        self._last = None  # the value result() last put in `_`

    # --- namespaces -------------------------------------------------------------------------
    def _ns(self, depth):
        frame = _sys._getframe(depth + 1)
        glob = self.user_ns if self.user_ns is not None else frame.f_globals
        ns = dict(glob)
        if frame.f_locals is not frame.f_globals:
            ns.update(frame.f_locals)
        return ns, glob, frame.f_locals

    def var_expand(self, cmd, ns):
        """IPython's `{expr}` and `$name` expansion; leaves cmd as is when it cannot format."""
        import re
        import string
        dollar = re.compile(r"(.*?)\$(\$?[\w\.]+)(?=([^']*'[^']*')*[^']*$)")

        class Fmt(string.Formatter):
            def parse(self, fmt_string):
                for literal, field, spec, conv in string.Formatter.parse(self, fmt_string):
                    cont, txt = 0, ""
                    for m in dollar.finditer(literal):
                        new_txt, new_field = m.group(1, 2)
                        if new_field.startswith("$"):
                            txt += new_txt + new_field
                        else:
                            yield (txt + new_txt, new_field, "", None)
                            txt = ""
                        cont = m.end()
                    yield (txt + literal[cont:], field, spec, conv)

            def vformat(self, fmt_string, args, kwargs):
                out = []
                for literal, field, spec, conv in self.parse(fmt_string):
                    if literal:
                        out.append(literal)
                    if field is not None:
                        if spec:
                            field = ":".join([field, spec])
                        obj = self.convert_field(eval(field, kwargs), conv)
                        out.append(self.format_field(obj, ""))
                return "".join(out)

        try:
            return Fmt().vformat(cmd, args=[], kwargs=ns)
        except Exception:
            return cmd

    # --- shell escapes ----------------------------------------------------------------------
    def _pty_run(self, cmd, sink):
        """Runs cmd with /bin/sh in a pseudo-terminal (like IPython's pexpect), feeding sink."""
        import fcntl
        import pty
        import struct
        import subprocess
        import termios
        master, slave = pty.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        except OSError:
            pass
        try:
            import shutil
            sh = shutil.which(_os.environ.get("SHELL", "sh")) or "/bin/sh"  # as IPython's pexpect
            proc = subprocess.Popen([sh, "-c", cmd], stdin=subprocess.DEVNULL, stdout=slave,
                                    stderr=slave, start_new_session=True, close_fds=True)
        finally:
            _os.close(slave)
        import codecs
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            while True:
                try:
                    chunk = _os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                sink(dec.decode(chunk))
        except KeyboardInterrupt:
            proc.kill()
            raise
        finally:
            _os.close(master)
        sink(dec.decode(b"", True))
        return proc.wait()

    def system(self, cmd, _depth=0):
        """`!cmd`: output goes to stdout as the command prints it, with a terminal's CRLF."""
        ns, glob, _ = self._ns(_depth + 1)
        cmd = self.var_expand(cmd, ns)
        if cmd.rstrip().endswith("&"):
            raise OSError("Background processes not supported.")

        def sink(text):
            _sys.stdout.write(text)
            _sys.stdout.flush()
        rc = self._pty_run(cmd, sink)
        glob["_exit_code"] = rc if rc >= 0 else -rc

    def getoutput(self, cmd, split=True, depth=0, _depth=0):
        """`x = !cmd`: the output lines as a list (the text with split=False)."""
        ns, _, _ = self._ns(_depth + 1)
        cmd = self.var_expand(cmd, ns)
        import shutil
        import subprocess
        sh = shutil.which(_os.environ.get("SHELL", "sh")) or "/bin/sh"
        # Not a terminal: `x = !ls` gets one name per line, as in Jupyter.
        p = subprocess.run([sh, "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        text = p.stdout.decode("utf-8", "replace")
        return _WfSList(text.splitlines()) if split else text.rstrip("\n")

    # --- magics -----------------------------------------------------------------------------
    def register_magic_function(self, func, magic_kind="line", magic_name=None):
        kinds = ["line", "cell"] if magic_kind == "line_cell" else [magic_kind]
        for kind in kinds:
            self.magics[kind][magic_name or func.__name__] = func

    def line_magic(self, name, line, _depth=0):
        ns, glob, local = self._ns(_depth + 1)
        line = self.var_expand(line, ns) if name not in ("time", "timeit", "env") else line
        if name in self.magics["line"]:
            return self.magics["line"][name](line)
        fn = getattr(self, "_line_" + name, None)
        if fn is None:
            raise _WfUsageError("Line magic function `%%%s` not found." % name)
        return fn(line, glob, local)

    def cell_magic(self, name, line, cell, _depth=0):
        ns, glob, local = self._ns(_depth + 1)
        line = self.var_expand(line, ns) if name not in ("time", "timeit", "capture") else line
        if name in self.magics["cell"]:
            return self.magics["cell"][name](line, cell)
        fn = getattr(self, "_cell_" + name, None)
        if fn is None:
            raise _WfUsageError("Cell magic `%%%%%s` not found." % name)
        return fn(line, cell, glob, local)

    def result(self, n, value):
        """A cell's final value, kept as IPython keeps it: Out[n], _n, and _, __, ___ (unless
        the notebook assigned `_` itself). None is not kept. Returns the value."""
        if value is None:
            return None
        glob = self.user_ns if self.user_ns is not None else _sys._getframe(1).f_globals
        out = glob.setdefault("Out", {})
        glob["_oh"] = out
        out[n] = glob["_%d" % n] = value
        if "_" not in glob or glob["_"] is self._last:
            glob["___"], glob["__"], glob["_"] = glob.get("__", ""), glob.get("_", ""), value
        self._last = value
        return value

    def run_line_magic(self, name, line, _stack_depth=1):
        return self.line_magic(name, line, _depth=1)

    def run_cell_magic(self, name, line, cell):
        return self.cell_magic(name, line, cell, _depth=1)

    # Overridden by the runner: runs a cell body like a notebook cell (last value displayed).
    def run_cell(self, code, glob=None, local=None, silent=False, capture=False):
        glob = glob if glob is not None else _sys.modules["__main__"].__dict__
        exec(compile(code, "<cell>", "exec"), glob, local)

    def _exec_expr(self, code, glob, local):
        """exec all but a final expression, which is evaluated and returned."""
        import ast
        tree = ast.parse(code)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<timed exec>", "exec"), glob, local)
        if last is not None:
            return eval(compile(ast.Expression(last.value), "<timed eval>", "eval"), glob, local)

    def _line_cd(self, line, glob, local):
        path = line.strip()
        for flag in ("-q ", "-q"):
            quiet = path.startswith(flag)
            if quiet:
                path = path[len(flag):].strip()
                break
        if len(path) > 1 and path[0] == path[-1] and path[0] in "'\"":
            path = path[1:-1]
        path = _os.path.expanduser(path) if path else _os.path.expanduser("~")
        if path == "-":
            path = glob.get("_wf_oldpwd", _os.getcwd())
        glob["_wf_oldpwd"] = _os.getcwd()
        _os.chdir(path)
        if not quiet:
            print(_os.getcwd())

    def _line_pwd(self, line, glob, local):
        return _os.getcwd()

    def _line_env(self, line, glob, local):
        line = line.strip()
        if not line:
            return dict(_os.environ)
        if "=" in line or " " in line:
            sep = "=" if "=" in line and (" " not in line or line.index("=") < line.index(" ")) else " "
            var, val = line.split(sep, 1)
            var, val = var.strip(), self.var_expand(val.strip(), dict(glob, **(local or {})))
            if len(val) > 1 and val[0] == val[-1] and val[0] in "'\"":
                val = val[1:-1]
            _os.environ[var] = val
            print("env: %s=%s" % (var, val))
            return None
        return _os.environ[line]

    def _line_set_env(self, line, glob, local):
        return self._line_env(line, glob, local)

    def _line_matplotlib(self, line, glob, local):
        gui = line.split()[0] if line.split() else "inline"
        if gui in ("inline", "agg", "Agg") and "MPLBACKEND" in _os.environ:
            return None  # the runner's inline backend is already selected
        import matplotlib
        try:
            import matplotlib.pyplot as plt
            plt.switch_backend("Agg")
        except Exception:
            matplotlib.use("Agg")

    def _line_pylab(self, line, glob, local):
        self._line_matplotlib(line, glob, local)
        exec("import numpy\nimport matplotlib\nfrom matplotlib import pylab, mlab, pyplot\n"
             "np = numpy\nplt = pyplot\nfrom pylab import *\nfrom numpy import *\n", glob)

    def _line_load_ext(self, line, glob, local):
        name = line.strip()
        if name in ("autoreload", "line_profiler", "memory_profiler", "watermark", "dotenv"):
            return None  # no-op outside IPython
        import importlib
        mod = importlib.import_module(name)
        if hasattr(mod, "load_ipython_extension"):
            mod.load_ipython_extension(self)

    def _line_reload_ext(self, line, glob, local):
        return None

    def _line_autoreload(self, line, glob, local):
        return None  # no-op: a plain Python run never edits modules mid-run

    def _line_aimport(self, line, glob, local):
        return None

    def _line_config(self, line, glob, local):
        # Only the inline backend's figure format matters outside IPython.
        import re
        m = re.match(r"\s*InlineBackend\.figure_formats?\s*=\s*(.*)$", line)
        if m:
            val = eval(m.group(1), {})
            vals = [val] if isinstance(val, str) else list(val)
            self.figure_formats = set(vals)
        return None

    def _line_xmode(self, line, glob, local):
        modes = {"plain": "Plain", "context": "Context", "verbose": "Verbose", "minimal": "Minimal"}
        name = line.strip().lower()
        if not name:
            order = ["Plain", "Context", "Verbose", "Minimal"]
            self.xmode = order[(order.index(self.xmode) + 1) % len(order)]
        elif name in modes:
            self.xmode = modes[name]
        else:
            raise ValueError("Unrecognized mode in FormattedTB: <%s>" % line.strip())
        print("Exception reporting mode: %s" % self.xmode)

    # IPython's default shell aliases on Linux (`ls` works like `!ls -F --color`).
    aliases = {"ls": "ls -F --color", "ll": "ls -F -o --color", "lf": "ls -F -o --color %l | grep ^-",
               "lk": "ls -F -o --color %l | grep ^l", "ldir": "ls -F -o --color %l | grep /$",
               "lx": "ls -F -o --color %l | grep ^-..x", "mkdir": "mkdir", "rmdir": "rmdir",
               "mv": "mv", "rm": "rm", "cp": "cp", "cat": "cat"}

    def alias(self, name, args, _depth=0):
        cmd = self.aliases[name]
        cmd = cmd.replace("%l", args) if "%l" in cmd else (cmd + " " + args).rstrip()
        return self.system(cmd, _depth=_depth + 1)

    def __getattr__(self, name):
        if name.startswith("_line_") and name[6:] in _WfShell.aliases:
            return lambda line, glob, local: self.alias(name[6:], line, _depth=3)
        raise AttributeError(name)

    def _line_qtconsole(self, line, glob, local):
        return None  # a frontend of its own: nothing to show in a notebook run

    def _line_precision(self, line, glob, local):
        return None

    def _line_who(self, line, glob, local):
        names = sorted(k for k, v in glob.items() if not k.startswith("_") and k not in
                       ("In", "Out", "exit", "quit", "get_ipython") and
                       not (type(v).__name__ == "module" and not line))
        print("\t".join(names) if names else "Interactive namespace is empty.")

    def _line_pip(self, line, glob, local):
        self.system('"%s" -m pip %s' % (_sys.executable, line), _depth=2)
        print("Note: you may need to restart the kernel to use updated packages.")

    def _line_conda(self, line, glob, local):
        self.system("conda %s" % line, _depth=2)

    def _line_run(self, line, glob, local):
        import shlex
        args = shlex.split(line)
        interactive = "-i" in args
        args = [a for a in args if a not in ("-i", "-e", "-t", "-p")]
        if not args:
            raise _WfUsageError("%run: missing file name")
        path = args[0]
        if not _os.path.exists(path) and _os.path.exists(path + ".py"):
            path += ".py"
        if path.endswith(".ipynb"):
            import json
            nb = json.load(open(path, encoding="utf-8"))
            cells = nb.get("cells") or [c for ws in nb.get("worksheets", []) for c in ws.get("cells", [])]
            src = "\n".join("".join(c.get("source", c.get("input", ""))) for c in cells
                            if c.get("cell_type") == "code")
            src = "\n".join(l for l in src.split("\n") if not l.lstrip().startswith(("%", "!")))
        else:
            with open(path, encoding="utf-8") as f:
                src = f.read()
        ns = glob if interactive else {"__name__": "__main__", "__file__": _os.path.abspath(path),
                                       "__builtins__": __builtins__}
        old_argv = _sys.argv
        _sys.argv = [path] + args[1:]
        try:
            exec(compile(src, path, "exec"), ns)
        finally:
            _sys.argv = old_argv
        if not interactive:
            glob.update({k: v for k, v in ns.items() if k not in ("__builtins__", "__name__", "__file__")})

    def _line_time(self, line, glob, local):
        return self._time(line, glob, local)

    def _cell_time(self, line, cell, glob, local):
        return self._time(cell, glob, local)

    def _time(self, code, glob, local):
        import time
        c0 = _os.times()
        w0 = time.time()
        out = self._exec_expr(code, glob, local)
        w1 = time.time()
        c1 = _os.times()
        user, sys_ = c1.user - c0.user, c1.system - c0.system
        print("CPU times: user %s, sys: %s, total: %s" %
              (_wf_format_time(user), _wf_format_time(sys_), _wf_format_time(user + sys_)))
        print("Wall time: %s" % _wf_format_time(w1 - w0))
        return out

    def _line_timeit(self, line, glob, local):
        return self._timeit(line, "", glob, local)

    def _cell_timeit(self, line, cell, glob, local):
        return self._timeit(line, cell, glob, local)

    def _timeit(self, line, cell, glob, local):
        import shlex
        import timeit
        args = shlex.split(line, posix=False) if line.strip() else []
        number = repeat = None
        quiet = ret = False
        precision = 3
        stmt_words = []
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-n", "-r", "-p") and i + 1 < len(args):
                val = int(args[i + 1])
                if a == "-n":
                    number = val
                elif a == "-r":
                    repeat = val
                else:
                    precision = val
                i += 2
                continue
            if a == "-q":
                quiet = True
            elif a == "-o":
                ret = True
            else:
                stmt_words = args[i:]
                break
            i += 1
        if cell:
            setup, stmt = " ".join(stmt_words) or "pass", cell
        else:
            setup, stmt = "pass", line[line.find(stmt_words[0]):] if stmt_words else "pass"
        ns = dict(glob)
        if local is not None and local is not glob:
            ns.update(local)
        timer = timeit.Timer(stmt, setup, globals=ns)
        repeat = repeat or 7
        if number is None:
            number = 1
            for index in range(0, 10):
                number = 10 ** index
                if timer.timeit(number) >= 0.2:
                    break
        runs = timer.repeat(repeat, number)
        result = _WfTimeitResult(number, repeat, runs, precision)
        worst, best = max(runs) / number, min(runs) / number
        if not quiet:
            if worst > 4 * best and best > 0 and worst > 1e-6:
                print("The slowest run took %0.2f times longer than the fastest. This could mean "
                      "that an intermediate result is being cached." % (worst / best))
            print(result)
        return result if ret else None

    def _cell_writefile(self, line, cell, glob, local):
        import shlex
        args = shlex.split(line)
        append = "-a" in args or "--append" in args
        name = [a for a in args if a not in ("-a", "--append")][0]
        name = _os.path.expanduser(name)
        if _os.path.exists(name):
            print("Appending to %s" % name if append else "Overwriting %s" % name)
        else:
            print("Writing %s" % name)
        with open(name, "a" if append else "w", encoding="utf-8") as f:
            f.write(cell)

    def _cell_file(self, line, cell, glob, local):
        return self._cell_writefile(line, cell, glob, local)

    # %%script and its shortcuts (%%bash, %%sh, ...), as IPython 8's ScriptMagics.shebang: the
    # program's output streams line by line as it comes, and a non-zero exit raises
    # CalledProcessError (so Jupyter fails the notebook) unless --no-raise-error is given.
    def _script(self, line, cell, glob):
        import errno
        import shlex
        import subprocess
        lex = shlex.shlex(line, posix=True)
        lex.whitespace_split = True
        lex.commenters = ""
        args, cmd = _wf_script_parser().parse_known_args(list(lex))
        ns = self.user_ns if self.user_ns is not None else glob
        if not cmd:
            raise TypeError("create_subprocess_exec() missing 1 required positional argument: "
                            "'program'")
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        except OSError as e:
            if e.errno == errno.ENOENT:
                print("Couldn't find program: %r" % cmd[0])
                return None
            raise
        if not cell.endswith("\n"):
            cell += "\n"
        cell = cell.encode("utf8", "replace")
        if args.bg:
            _wf_script_background(p, cell, args, ns)
            return None
        try:
            _wf_script_communicate(p, cell, ((p.stdout, args.out, _sys.stdout),
                                             (p.stderr, args.err, _sys.stderr)), ns)
        except KeyboardInterrupt:
            _wf_script_interrupt(p)
            return None
        if args.raise_error and p.returncode != 0:
            raise subprocess.CalledProcessError(p.returncode or -9, cell)
        return None

    def _named_script(self, program, line, cell, glob):
        return self._script("%s %s" % (program, line) if line else program, cell, glob)

    def _cell_script(self, line, cell, glob, local):
        return self._script(line, cell, glob)

    def _cell_bash(self, line, cell, glob, local):
        return self._named_script("bash", line, cell, glob)

    def _cell_sh(self, line, cell, glob, local):
        return self._named_script("sh", line, cell, glob)

    def _cell_perl(self, line, cell, glob, local):
        return self._named_script("perl", line, cell, glob)

    def _cell_ruby(self, line, cell, glob, local):
        return self._named_script("ruby", line, cell, glob)

    def _cell_python(self, line, cell, glob, local):
        return self._named_script("python", line, cell, glob)

    def _cell_python2(self, line, cell, glob, local):
        return self._named_script("python2", line, cell, glob)

    def _cell_python3(self, line, cell, glob, local):
        return self._named_script("python3", line, cell, glob)

    def _cell_pypy(self, line, cell, glob, local):
        return self._named_script("pypy", line, cell, glob)

    def _rich(self, mime, cls, cell):
        obj = _WfRich({mime: cell}, "<IPython.core.display.%s object>" % cls)
        display(obj)  # noqa: F821 - a builtin in the runner, defined below for scripts

    def _cell_html(self, line, cell, glob, local):
        self._rich("text/html", "HTML", cell)

    _cell_HTML = _cell_html

    def _cell_markdown(self, line, cell, glob, local):
        self._rich("text/markdown", "Markdown", cell)

    def _cell_latex(self, line, cell, glob, local):
        self._rich("text/latex", "Latex", cell)

    def _cell_svg(self, line, cell, glob, local):
        self._rich("image/svg+xml", "SVG", cell)

    def _cell_javascript(self, line, cell, glob, local):
        self._rich("application/javascript", "Javascript", cell)

    _cell_js = _cell_javascript

    def _cell_capture(self, line, cell, glob, local):
        args = line.split()
        name = next((a for a in args if not a.startswith("-")), None)
        with _WfCapture(stdout="--no-stdout" not in args, stderr="--no-stderr" not in args,
                        display="--no-display" not in args) as cap:
            self.run_cell(cell, glob, local, capture=True)
        if name:
            glob[name] = cap


def _wf_script_parser():
    """The options IPython's %%script takes; the rest of the line is the program to run."""
    p = _WfArgParser("script")
    p.add_argument("--out", type=str)
    p.add_argument("--err", type=str)
    p.add_argument("--bg", action="store_true")
    p.add_argument("--proc", type=str)
    p.add_argument("--no-raise-error", action="store_false", dest="raise_error")
    return p


def _wf_script_communicate(p, data, streams, ns):
    """Feeds `data` to p's stdin and passes its output on a line at a time, as it comes: to the
    stream, or (--out/--err) into a variable, which keeps the last line as in IPython 8."""
    import selectors
    sel = selectors.DefaultSelector()
    todo = memoryview(data)
    if todo:
        _os.set_blocking(p.stdin.fileno(), False)
        sel.register(p.stdin, selectors.EVENT_WRITE)
    else:
        p.stdin.close()
    pending = {}  # per stream: the pieces of a line still without its newline
    for f, name, out in streams:
        sel.register(f, selectors.EVENT_READ, (name, out))
        pending[f] = []

    def emit(chunk, name, out):
        text = chunk.decode("utf8", "replace")
        if name:
            ns[name] = text
        else:
            out.write(text)
            out.flush()

    try:
        while sel.get_map():
            for key, _ in sel.select():
                f = key.fileobj
                if f is p.stdin:
                    try:
                        todo = todo[_os.write(f.fileno(), todo[:65536]):]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        todo = todo[:0]
                    if not todo:
                        sel.unregister(f)
                        f.close()
                    continue
                chunk = _os.read(f.fileno(), 65536)
                if not chunk:
                    rest = b"".join(pending[f])
                    if rest:
                        emit(rest, *key.data)
                    sel.unregister(f)
                    f.close()
                    continue
                lines = chunk.split(b"\n")
                if len(lines) == 1:
                    pending[f].append(chunk)
                    continue
                lines[0] = b"".join(pending[f]) + lines[0]
                pending[f] = [lines.pop()]
                for line in lines:
                    emit(line + b"\n", *key.data)
    finally:
        sel.close()
    p.wait()


def _wf_script_background(p, data, args, ns):
    """%%script --bg: the program runs on while the notebook goes on (IPython's --out/--err then
    give its output pipes, --proc the process)."""
    import threading

    def feed():
        try:
            p.stdin.write(data)
            p.stdin.close()
        except OSError:
            pass
        for f, name in ((p.stdout, args.out), (p.stderr, args.err)):
            if not name:
                f.read()
        p.wait()
    if args.out:
        ns[args.out] = p.stdout
    if args.err:
        ns[args.err] = p.stderr
    threading.Thread(target=feed, daemon=True).start()
    if args.proc:
        ns[args.proc] = p


def _wf_script_interrupt(p):
    """Ctrl-C during %%script: stop the program as IPython does, and go on."""
    import signal
    import subprocess

    def stopped():
        try:
            p.wait(0.1)
        except subprocess.TimeoutExpired:
            pass
        return p.returncode is not None
    try:
        p.send_signal(signal.SIGINT)
        if stopped():
            print("Process is interrupted.")
            return
        p.terminate()
        if stopped():
            print("Process is terminated.")
            return
        p.kill()
        print("Process is killed.")
    except OSError:
        pass
    except Exception as e:
        print("Error while terminating subprocess (pid=%i): %s" % (p.pid, e))


class _WfRich:
    """A display object made by %%html, %%markdown, ... (text/plain like IPython's)."""

    def __init__(self, bundle, plain):
        self._bundle, self._plain = bundle, plain

    def _repr_mimebundle_(self, include=None, exclude=None):
        return dict(self._bundle)

    def __repr__(self):
        return self._plain


class _WfCapture:
    """%%capture: collects stdout, stderr and displays; the object IPython calls CapturedIO."""

    def __init__(self, stdout=True, stderr=True, display=True):
        self._want = (stdout, stderr, display)
        self._out = []
        self.outputs = []

    def __enter__(self):
        import io
        self._saved = (_sys.stdout, _sys.stderr)
        self._io = (io.StringIO() if self._want[0] else None, io.StringIO() if self._want[1] else None)
        if self._io[0] is not None:
            _sys.stdout = self._io[0]
        if self._io[1] is not None:
            _sys.stderr = self._io[1]
        if self._want[2]:
            _wf_capture_stack.append(self.outputs)
        return self

    def __exit__(self, *exc):
        _sys.stdout, _sys.stderr = self._saved
        if self._want[2]:
            _wf_capture_stack.pop()
        return False

    @property
    def stdout(self):
        return self._io[0].getvalue() if self._io[0] is not None else ""

    @property
    def stderr(self):
        return self._io[1].getvalue() if self._io[1] is not None else ""

    def show(self):
        if self.stdout:
            _sys.stdout.write(self.stdout)
            _sys.stdout.flush()
        if self.stderr:
            _sys.stderr.write(self.stderr)
            _sys.stderr.flush()
        for o in self.outputs:
            display(o)  # noqa: F821

    __call__ = show


_WfCapture.__module__ = "IPython.utils.capture"
_WfCapture.__name__ = _WfCapture.__qualname__ = "CapturedIO"
_wf_capture_stack = []

import builtins as _wf_builtins

if hasattr(_wf_builtins, "display"):
    display = _wf_builtins.display
else:
    def display(*objs, **kwargs):
        """Plain-script display(): prints what the notebook would show as text."""
        for obj in objs:
            print(repr(obj))

_wf = _WfShell()


def get_ipython():
    """The shell object IPython code asks for (magics register themselves on it)."""
    return _wf
