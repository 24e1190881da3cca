# wfrun notebook support, part 2 (appended to support.py): IPython's introspection magics
# (%lsmagic, %history, %debug, %connect_info) and the kernel-side objects that notebooks reach
# through get_ipython() (.kernel.session.send, .display_pub). Standard library only.

# The magic table of IPython 8 inside ipykernel (what %lsmagic shows in Jupyter), class names as
# IPython's MagicsDisplay._jsonable gives them. Magics a notebook registers are added as "Other".
_WF_LINE_MAGICS = {
    "OSMagics": "alias bookmark cd dhist dirs env popd pushd pwd pycat rehashx sc set_env sx "
                "system unalias",
    "BasicMagics": "alias_magic colors doctest_mode gui lsmagic magic notebook page pprint "
                   "precision quickref xmode",
    "AsyncMagics": "autoawait",
    "AutoMagics": "autocall automagic",
    "KernelMagics": "autosave clear connect_info edit less man more qtconsole",
    "Other": "cat cp ed hist ldir lf lk ll ls lx mkdir mv rep rm rmdir",
    "PackagingMagics": "conda pip",
    "ConfigMagics": "config",
    "ExecutionMagics": "debug macro pdb prun run tb time timeit",
    "HistoryMagics": "history recall rerun",
    "ScriptMagics": "killbgscripts",
    "CodeMagics": "load loadpy pastebin save",
    "ExtensionMagics": "load_ext reload_ext unload_ext",
    "LoggingMagics": "logoff logon logstart logstate logstop",
    "PylabMagics": "matplotlib pylab",
    "NamespaceMagics": "pdef pdoc pfile pinfo pinfo2 psearch psource reset reset_selective who "
                       "who_ls whos xdel",
    "StoreMagics": "store",
}
_WF_CELL_MAGICS = {
    "OSMagics": "! sx system writefile",
    "Other": "HTML SVG bash file perl pypy python python2 python3 ruby sh",
    "ExecutionMagics": "capture debug prun time timeit",
    "DisplayMagics": "html javascript js latex markdown svg",
    "ScriptMagics": "script",
}


class _WfMagicsDisplay:
    """What %lsmagic returns: IPython's MagicsDisplay (text/plain and application/json)."""

    def __init__(self, table):
        self._table = table

    def _text(self):
        line = sorted(self._table["line"])
        cell = sorted(self._table["cell"])
        return "\n".join(["Available line magics:", "%" + "  %".join(line), "",
                          "Available cell magics:", "%%" + "  %%".join(cell), "",
                          "Automagic is ON, % prefix IS NOT needed for line magics."])

    def _repr_pretty_(self, p, cycle):
        p.text(self._text())

    def __str__(self):
        return self._text()

    def _repr_json_(self):
        return {k: dict(v) for k, v in self._table.items()}


_WfMagicsDisplay.__module__ = "IPython.core.magics.basic"
_WfMagicsDisplay.__name__ = _WfMagicsDisplay.__qualname__ = "MagicsDisplay"


class _WfArgParser:
    """argparse for magics, failing with UsageError as IPython's MagicArgumentParser does."""

    def __new__(cls, prog):
        import argparse

        class Parser(argparse.ArgumentParser):
            def error(self, message):
                raise _WfUsageError(message)

            def exit(self, status=0, message=None):
                raise _WfUsageError(message or "")
        return Parser(prog="%" + prog, add_help=False)


def _wf_arg_split(line):
    import shlex
    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError:
        return line.split()


def _wf_hist_ranges(text):
    """IPython's extract_hist_ranges: (session, start, stop) triples; session 0 is this one."""
    import re
    range_re = re.compile(r"((?P<startsess>~?\d+)/)?(?P<start>\d+)?"
                          r"((?P<sep>[\-:])((?P<endsess>~?\d+)/)?(?P<end>\d+))?$")
    if text == "":
        yield (0, 1, None)
        return
    for part in text.split():
        m = range_re.match(part)
        if not m:
            continue
        start = m.group("start")
        if start:
            start = int(start)
            end = int(m.group("end")) if m.group("end") else start + 1
        else:
            if not m.group("startsess"):
                continue
            start, end = 1, None
        if m.group("sep") == "-":
            end += 1
        startsess = int((m.group("startsess") or "0").replace("~", "-"))
        endsess = int((m.group("endsess") or str(startsess)).replace("~", "-"))
        if endsess == startsess:
            yield (startsess, start, end)
            continue
        yield (startsess, start, None)
        for sess in range(startsess + 1, endsess):
            yield (sess, 1, None)
        yield (endsess, 1, end)


def _wf_pdb():
    """A pdb.Pdb that shows where it stops the way IPython's debugger does (5 lines of
    context). Asking for a command reads input(): in a notebook run that raises
    StdinNotImplementedError, as in Jupyter; in a script run from a terminal it is pdb."""
    import linecache
    import pdb

    class Pdb(pdb.Pdb):
        def print_stack_entry(self, frame_lineno, prompt_prefix="\n-> "):
            frame, lineno = frame_lineno
            green, cyan, blue, normal = "\x1b[0;32m", "\x1b[0;36m", "\x1b[0;34m", "\x1b[0m"
            filename = self.canonic(frame.f_code.co_filename)
            func = frame.f_code.co_name or "<lambda>"
            out = ["> " if frame is self.curframe else "  ",
                   "%s%s%s(%s)%s%s%s()%s\n" % (green, filename, normal, lineno, cyan, func, blue,
                                                normal)]
            context = 5
            lines = linecache.getlines(filename, frame.f_globals)
            start = max(min(lineno - 1 - context // 2, len(lines) - context), 0)
            for i, text in enumerate(lines[start:start + context]):
                n = start + 1 + i
                num = ("-" * (7 - len(str(n)) - 2) + "> " + str(n)) if n == lineno else "%7d" % n
                out.append("%s%s %s%s" % (green, num, normal, text))
            print("".join(out), file=self.stdout)

    p = Pdb(readrc=False)  # no stdout= : that would make cmd read sys.stdin, not input()
    p.prompt = "ipdb> "
    return p


def _wf_line_lsmagic(self, line, glob, local):
    table = {"line": {}, "cell": {}}
    for kind, classes in (("line", _WF_LINE_MAGICS), ("cell", _WF_CELL_MAGICS)):
        for cls, names in classes.items():
            for name in names.split():
                table[kind][name] = cls
        for name in self.magics[kind]:
            table[kind][name] = "Other"
    return _WfMagicsDisplay(table)


def _wf_line_history(self, line, glob, local):
    """%history [-n] [-o] [-p] [-t] [-f FILE] [-g [PATTERN ...]] [-l [N]] [-u] [RANGE ...]:
    this run's input history as IPython prints it (there are no earlier sessions)."""
    import fnmatch
    parser = _WfArgParser("history")
    parser.add_argument("-n", dest="print_nums", action="store_true")
    parser.add_argument("-o", dest="get_output", action="store_true")
    parser.add_argument("-p", dest="pyprompts", action="store_true")
    parser.add_argument("-t", dest="raw", action="store_false", default=True)
    parser.add_argument("-f", dest="filename")
    parser.add_argument("-g", dest="pattern", nargs="*", default=None)
    unspecified = object()
    parser.add_argument("-l", dest="limit", type=int, nargs="?", default=unspecified)
    parser.add_argument("-u", dest="unique", action="store_true")
    parser.add_argument("range", nargs="*")
    args = parser.parse_args(_wf_arg_split(line))
    inputs = self.input_hist_raw if args.raw else self.input_hist_parsed
    outputs = self.output_hist_reprs
    count = len(inputs)  # the cell running %history is the last entry, as in IPython

    def entry(i):
        return (i, (inputs[i], outputs.get(i)) if args.get_output else inputs[i])

    print_nums = args.print_nums
    range_pattern = None
    if args.pattern is not None and not args.range:
        pattern = "*" + " ".join(args.pattern) + "*" if args.pattern else "*"
        hist = [entry(i) for i in range(1, count) if fnmatch.fnmatchcase(inputs[i], pattern)]
        if args.unique:
            seen, uniq = {}, []
            for i, item in hist:
                seen[inputs[i]] = (i, item)  # the latest of each, in order of that latest
            uniq = sorted(seen.values(), key=lambda e: e[0])
            hist = uniq
        limit = None if args.limit is unspecified else args.limit
        if limit is not None:
            hist = hist[-limit:] if limit > 0 else []
        print_nums = True
    elif args.limit is not unspecified:
        n = 10 if args.limit is None else args.limit
        hist = [entry(i) for i in range(max(1, count - 1 - n), count - 1)] if n > 0 else []
    else:
        if args.pattern:
            range_pattern = "*" + " ".join(args.pattern) + "*"
            print_nums = True
        hist = []
        for session, start, stop in _wf_hist_ranges(" ".join(args.range)):
            if session != 0:
                continue  # earlier sessions: none in a batch run
            if start < 0:
                start += count
            if not stop or stop > count:
                stop = count
            elif stop < 0:
                stop += count
            hist.extend(entry(i) for i in range(start, stop))

    if args.filename:
        path = _os.path.expanduser(args.filename)
        if _os.path.exists(path):
            print("Overwriting file.")
        outfile = open(path, "w", encoding="utf-8")
    else:
        outfile = _sys.stdout
    try:
        for lineno, inline in hist:
            output = None
            if args.get_output:
                inline, output = inline
            if range_pattern and not fnmatch.fnmatch(inline, range_pattern):
                continue
            inline = inline.expandtabs(4).rstrip()
            multiline = "\n" in inline
            if print_nums:
                print("%s:%s" % (str(lineno).rjust(4), "\n" if multiline else " "), file=outfile,
                      end="")
            if args.pyprompts:
                print(">>> ", end="", file=outfile)
                if multiline:
                    inline = "\n... ".join(inline.splitlines()) + "\n..."
            print(inline, file=outfile)
            if args.get_output and output:
                print(output, file=outfile)
    finally:
        if outfile is not _sys.stdout:
            outfile.close()


def _wf_line_debug(self, line, glob, local):
    """%debug: post-mortem on the last error, or `%debug STATEMENT` under the debugger."""
    if line.strip():
        print("NOTE: Enter 'c' at the ipdb>  prompt to continue execution.")
        _wf_pdb().run(line.strip(), glob, local if local is not glob else None)
        return None
    tb = getattr(_sys, "last_traceback", None)
    if tb is None:
        import logging
        logging.error("No traceback has been produced, nothing to debug.")  # as IPython does
        return None
    p = _wf_pdb()
    p.reset()
    p.botframe = tb.tb_frame  # as IPython's VerboseTB.debugger: `q` stops here
    p.interaction(None, tb)


def _wf_line_connect_info(self, line, glob, local):
    # Jupyter prints the kernel's connection file here; a wfrun run has no kernel to attach to.
    print("{}\n")
    print("wfrun runs this notebook without a Jupyter kernel: there is nothing to connect to.")


def _wf_line_tb(self, line, glob, local):
    if getattr(_sys, "last_traceback", None) is None:
        raise _WfUsageError("No traceback available to show.")
    import traceback
    traceback.print_exception(_sys.last_type, _sys.last_value, _sys.last_traceback)


_WfShell._line_lsmagic = _wf_line_lsmagic
_WfShell._line_history = _WfShell._line_hist = _wf_line_history
_WfShell._line_debug = _wf_line_debug
_WfShell._line_connect_info = _wf_line_connect_info
_WfShell._line_tb = _wf_line_tb
_WfShell.input_hist_raw = [""]     # the runner keeps these per cell; a script has no cells
_WfShell.input_hist_parsed = [""]
_WfShell.output_hist_reprs = {}
_WfShell.parent_header = {}


# --- what get_ipython().display_pub and .kernel offer -------------------------------------
# Outputs go through four shell methods; a plain script prints text, the runner replaces them
# with its own events.
def _wf_publish(self, data, metadata=None, transient=None, update=False):
    if not update and "text/plain" in data:
        print(data["text/plain"])


def _wf_publish_result(self, data, metadata=None, transient=None, execution_count=None):
    self._publish(data, metadata, transient)


def _wf_clear_output(self, wait=False):
    pass


def _wf_stream(self, name, text):
    stream = _sys.stderr if name == "stderr" else _sys.stdout
    stream.write(text)
    stream.flush()


_WfShell._publish = _wf_publish
_WfShell._publish_result = _wf_publish_result
_WfShell._clear_output = _wf_clear_output
_WfShell._stream = _wf_stream


class _WfDisplayPublisher:
    """get_ipython().display_pub (ipykernel's ZMQDisplayPublisher)."""

    def __init__(self, shell):
        self.shell = shell

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        self.shell._publish(dict(data), dict(metadata or {}), dict(transient or {}), update)

    def clear_output(self, wait=False):
        self.shell._clear_output(wait)


class _WfSocket:
    """Stands for ipykernel's sockets: messages sent to it become outputs."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "<wfrun %s socket>" % self.name


class _WfSession:
    """get_ipython().kernel.session: send() maps Jupyter messages onto outputs."""

    def __init__(self, shell):
        self.shell = shell
        import uuid
        self.session = str(uuid.uuid4())
        self.username = _os.environ.get("USER", "username")

    def msg(self, msg_type, content=None, parent=None, header=None, metadata=None):
        import datetime
        import uuid
        header = header or {"msg_id": uuid.uuid4().hex, "msg_type": msg_type,
                            "username": self.username, "session": self.session,
                            "date": datetime.datetime.now(datetime.timezone.utc), "version": "5.3"}
        return {"header": header, "msg_id": header["msg_id"], "msg_type": header["msg_type"],
                "parent_header": (parent or {}).get("header", parent or {}),
                "content": {} if content is None else content, "metadata": metadata or {}}

    def send(self, stream, msg_or_type, content=None, parent=None, ident=None, buffers=None,
             track=False, header=None, metadata=None):
        if isinstance(msg_or_type, dict):
            msg = msg_or_type
        else:
            msg = self.msg(msg_or_type, content, parent, header, metadata)
        msg_type, c = msg["header"]["msg_type"], msg.get("content") or {}
        sh = self.shell
        if msg_type in ("display_data", "update_display_data"):
            sh._publish(dict(c.get("data", {})), dict(c.get("metadata") or {}),
                        dict(c.get("transient") or {}), msg_type == "update_display_data")
        elif msg_type == "execute_result":
            sh._publish_result(dict(c.get("data", {})), dict(c.get("metadata") or {}),
                               dict(c.get("transient") or {}), c.get("execution_count"))
        elif msg_type == "stream":
            sh._stream(c.get("name", "stdout"), c.get("text", ""))
        elif msg_type == "clear_output":
            sh._clear_output(bool(c.get("wait", False)))
        # Other messages (status, execute_input, comm_*) have no place in a notebook file.
        return msg


class _WfKernel:
    """get_ipython().kernel: the parts of ipykernel's Kernel that notebooks use."""

    def __init__(self, shell):
        self.shell = shell
        self.session = _WfSession(shell)
        self.iopub_socket = _WfSocket("iopub")
        self.stdin_socket = _WfSocket("stdin")

    def get_parent(self, channel="shell"):
        return self.shell.parent_header

    @property
    def _parent_header(self):
        return self.shell.parent_header


def _wf_kernel(self):
    if "_wf_kernel_obj" not in self.__dict__:
        self.__dict__["_wf_kernel_obj"] = _WfKernel(self)
    return self.__dict__["_wf_kernel_obj"]


def _wf_display_pub(self):
    if "_wf_display_pub_obj" not in self.__dict__:
        self.__dict__["_wf_display_pub_obj"] = _WfDisplayPublisher(self)
    return self.__dict__["_wf_display_pub_obj"]


_WfShell.kernel = property(_wf_kernel)
_WfShell.display_pub = property(_wf_display_pub)
