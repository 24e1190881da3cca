# wfrun notebook runner (appended to support.py; shipped inside the wfrun binary).
# Runs converted notebook cells in one namespace, the way IPython/ipykernel would, and streams
# one JSON event per line to the fd in WFRUN_NB_EVENTS_FD. Standard library only.
import ast as _ast
import base64 as _base64
import builtins as _builtins
import json as _json
import threading as _threading
import time as _time
import types as _types

_R = None  # the Runner


# --------------------------------------------------------------------------------------------
# IPython's pretty printer (IPython.lib.pretty), for text/plain.
class _PText:
    def __init__(self):
        self.objs, self.width = [], 0

    def output(self, stream, output_width):
        for obj in self.objs:
            stream.append(obj)
        return output_width + self.width

    def add(self, obj, width):
        self.objs.append(obj)
        self.width += width


class _PBreakable:
    def __init__(self, seq, width, pretty):
        self.obj, self.width, self.pretty = seq, width, pretty
        self.indentation = pretty.indentation
        self.group = pretty.group_stack[-1]
        self.group.breakables.append(self)

    def output(self, stream, output_width):
        self.group.breakables.popleft()
        if self.group.want_break:
            stream.append("\n")
            stream.append(" " * self.indentation)
            return self.indentation
        if not self.group.breakables:
            self.pretty.group_queue.remove(self.group)
        stream.append(self.obj)
        return output_width + self.width


class _PGroup:
    def __init__(self, depth):
        import collections
        self.depth, self.breakables, self.want_break = depth, collections.deque(), False


class _PGroupQueue:
    def __init__(self, *groups):
        self.queue = []
        for g in groups:
            self.enq(g)

    def enq(self, group):
        depth = group.depth
        while depth > len(self.queue) - 1:
            self.queue.append([])
        self.queue[depth].append(group)

    def deq(self):
        for stack in self.queue:
            for idx, group in enumerate(reversed(stack)):
                if group.breakables:
                    del stack[idx]
                    group.want_break = True
                    return group
            for group in stack:
                group.want_break = True
            del stack[:]

    def remove(self, group):
        try:
            self.queue[group.depth].remove(group)
        except ValueError:
            pass


class _Pretty:
    max_width, max_seq_length = 79, 1000

    def __init__(self):
        import collections
        self.out, self.output_width, self.buffer_width = [], 0, 0
        self.buffer = collections.deque()
        root = _PGroup(0)
        self.group_stack, self.group_queue = [root], _PGroupQueue(root)
        self.indentation, self.stack = 0, []

    def _break_outer_groups(self):
        while self.max_width < self.output_width + self.buffer_width:
            group = self.group_queue.deq()
            if not group:
                return
            while group.breakables:
                x = self.buffer.popleft()
                self.output_width = x.output(self.out, self.output_width)
                self.buffer_width -= x.width
            while self.buffer and isinstance(self.buffer[0], _PText):
                x = self.buffer.popleft()
                self.output_width = x.output(self.out, self.output_width)
                self.buffer_width -= x.width

    def text(self, obj):
        width = len(obj)
        if self.buffer:
            text = self.buffer[-1]
            if not isinstance(text, _PText):
                text = _PText()
                self.buffer.append(text)
            text.add(obj, width)
            self.buffer_width += width
            self._break_outer_groups()
        else:
            self.out.append(obj)
            self.output_width += width

    def breakable(self, sep=" "):
        width = len(sep)
        group = self.group_stack[-1]
        if group.want_break:
            self.flush()
            self.out.append("\n")
            self.out.append(" " * self.indentation)
            self.output_width, self.buffer_width = self.indentation, 0
        else:
            self.buffer.append(_PBreakable(sep, width, self))
            self.buffer_width += width
            self._break_outer_groups()

    def break_(self):
        group = self.group_queue.deq()
        if group:
            self._break_one_group(group)
        self.flush()
        self.out.append("\n")
        self.out.append(" " * self.indentation)
        self.output_width, self.buffer_width = self.indentation, 0

    def _break_one_group(self, group):
        while group.breakables:
            x = self.buffer.popleft()
            self.output_width = x.output(self.out, self.output_width)
            self.buffer_width -= x.width
        while self.buffer and isinstance(self.buffer[0], _PText):
            x = self.buffer.popleft()
            self.output_width = x.output(self.out, self.output_width)
            self.buffer_width -= x.width

    def begin_group(self, indent=0, open=""):
        if open:
            self.text(open)
        group = _PGroup(self.group_stack[-1].depth + 1)
        self.group_stack.append(group)
        self.group_queue.enq(group)
        self.indentation += indent

    def end_group(self, dedent=0, close=""):
        self.indentation -= dedent
        group = self.group_stack.pop()
        if not group.breakables:
            self.group_queue.remove(group)
        if close:
            self.text(close)

    def group(self, indent=0, open="", close=""):
        import contextlib

        @contextlib.contextmanager
        def cm():
            self.begin_group(indent, open)
            try:
                yield
            finally:
                self.end_group(indent, close)
        return cm()

    def indent(self, indent):
        import contextlib

        @contextlib.contextmanager
        def cm():
            self.indentation += indent
            try:
                yield
            finally:
                self.indentation -= indent
        return cm()

    def _enumerate(self, seq):
        for idx, x in enumerate(seq):
            if self.max_seq_length and idx >= self.max_seq_length:
                self.text(",")
                self.breakable()
                self.text("...")
                return
            yield idx, x

    def flush(self):
        for data in self.buffer:
            self.output_width += data.output(self.out, self.output_width)
        self.buffer.clear()
        self.buffer_width = 0

    def getvalue(self):
        self.flush()
        return "".join(self.out)

    def pretty(self, obj):
        obj_id = id(obj)
        cycle = obj_id in self.stack
        self.stack.append(obj_id)
        self.begin_group()
        try:
            cls = _pget(obj, "__class__", None) or type(obj)
            if obj is None or obj is True or obj is False or obj is Ellipsis or obj is NotImplemented:
                return self.text(repr(obj))
            try:
                mro = cls.__mro__
            except AttributeError:
                mro = (cls,)
            user = _WfShell.display_formatter.formatters["text/plain"]
            for c in mro:
                printer = user.lookup_cls(c) if user.type_printers or user.deferred_printers else None
                if printer is None:
                    printer = _pprinters().get(c)
                if printer is None:
                    printer = _deferred_printer(c)
                if printer is not None:
                    return printer(obj, self, cycle)
                if "_repr_pretty_" in c.__dict__:
                    meth = c._repr_pretty_
                    if callable(meth):
                        return meth(obj, self, cycle)
                if c is not object and callable(c.__dict__.get("__repr__")):
                    return _repr_pprint(obj, self, cycle)
            return _default_pprint(obj, self, cycle)
        finally:
            self.end_group()
            self.stack.pop()


def _pget(obj, name, default):
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def _sorted_for_pprint(items):
    items = list(items)
    try:
        return sorted(items)
    except Exception:
        try:
            return sorted(items, key=str)
        except Exception:
            return items


def _repr_pprint(obj, p, cycle):
    output = repr(obj)
    lines = output.splitlines()
    with p.group():
        for idx, line in enumerate(lines):
            if idx:
                p.break_()
            p.text(line)


def _default_pprint(obj, p, cycle):
    klass = _pget(obj, "__class__", None) or type(obj)
    if _pget(klass, "__repr__", None) is not object.__repr__:
        return _repr_pprint(obj, p, cycle)
    p.begin_group(1, "<")
    p.pretty(klass)
    p.text(" at 0x%x" % id(obj))
    if cycle:
        p.text(" ...")
    p.end_group(1, ">")


def _seq_printer(start, end, basetype):
    def inner(obj, p, cycle):
        typ = type(obj)
        if basetype is not None and typ is not basetype and typ.__repr__ != basetype.__repr__:
            return p.text(typ.__repr__(obj))
        if cycle:
            return p.text(start + "..." + end)
        step = len(start)
        p.begin_group(step, start)
        for idx, x in p._enumerate(obj):
            if idx:
                p.text(",")
                p.breakable()
            p.pretty(x)
        if len(obj) == 1 and isinstance(obj, tuple):
            p.text(",")
        p.end_group(step, end)
    return inner


def _set_printer(start, end, basetype):
    def inner(obj, p, cycle):
        typ = type(obj)
        if basetype is not None and typ is not basetype and typ.__repr__ != basetype.__repr__:
            return p.text(typ.__repr__(obj))
        if cycle:
            return p.text(start + "..." + end)
        if len(obj) == 0:
            p.text(type(obj).__name__ + "()")
        else:
            step = len(start)
            p.begin_group(step, start)
            items = obj
            if not (p.max_seq_length and len(obj) >= p.max_seq_length):
                items = _sorted_for_pprint(obj)
            for idx, x in p._enumerate(items):
                if idx:
                    p.text(",")
                    p.breakable()
                p.pretty(x)
            p.end_group(step, end)
    return inner


def _dict_printer(start, end, basetype=None):
    def inner(obj, p, cycle):
        typ = type(obj)
        if basetype is not None and typ is not basetype and typ.__repr__ != basetype.__repr__:
            return p.text(typ.__repr__(obj))
        if cycle:
            return p.text("{...}")
        step = len(start)
        p.begin_group(step, start)
        for idx, key in p._enumerate(obj.keys()):
            if idx:
                p.text(",")
                p.breakable()
            p.pretty(key)
            p.text(": ")
            p.pretty(obj[key])
        p.end_group(step, end)
    return inner


def _super_pprint(obj, p, cycle):
    p.begin_group(8, "<super: ")
    p.pretty(obj.__thisclass__)
    p.text(",")
    p.breakable()
    p.pretty(obj.__self__)
    p.end_group(8, ">")


def _re_pattern_pprint(obj, p, cycle):
    import re
    p.text("re.compile(")
    pattern = repr(obj.pattern)
    if pattern[:1] in "uU":
        pattern = pattern[1:]
        prefix = "ur"
    else:
        prefix = "r"
    pattern = prefix + pattern.replace("\\\\", "\\")
    p.text(pattern)
    if obj.flags:
        p.text(",")
        p.breakable()
        done_one = False
        for flag in ("TEMPLATE", "IGNORECASE", "LOCALE", "MULTILINE", "DOTALL", "UNICODE",
                     "VERBOSE", "DEBUG"):
            if obj.flags & getattr(re, flag, 0):
                if done_one:
                    p.text("|")
                p.text("re." + flag)
                done_one = True
    p.text(")")


def _type_pprint(obj, p, cycle):
    if [m for m in type(obj).__mro__ if "__repr__" in vars(m)][:1] != [type]:
        return _repr_pprint(obj, p, cycle)
    mod = _pget(obj, "__module__", None)
    try:
        name = obj.__qualname__
        if not isinstance(name, str):
            raise Exception()
    except Exception:
        name = obj.__name__
        if not isinstance(name, str):
            name = "<unknown type>"
    if mod in (None, "__builtin__", "builtins", "exceptions"):
        p.text(name)
    else:
        p.text(mod + "." + name)


def _function_pprint(obj, p, cycle):
    import inspect
    name = _pget(obj, "__qualname__", obj.__name__)
    mod = obj.__module__
    if mod and mod not in ("__builtin__", "builtins", "exceptions"):
        name = mod + "." + name
    try:
        func_def = name + str(inspect.signature(obj))
    except ValueError:
        func_def = name
    p.text("<function %s>" % func_def)


def _builtin_pprint(obj, p, cycle):
    self_obj = obj.__self__
    if self_obj is None or isinstance(self_obj, _types.ModuleType):
        p.text("<built-in function %s>" % obj.__name__)
    else:
        p.text("<built-in method %s of %s object at 0x%x>" %
               (obj.__name__, type(self_obj).__name__, id(self_obj)))


def _exception_pprint(obj, p, cycle):
    name = getattr(obj.__class__, "__qualname__", obj.__class__.__name__)
    if obj.__class__.__module__ not in ("exceptions", "builtins"):
        name = "%s.%s" % (obj.__class__.__module__, name)
    step = len(name) + 1
    p.begin_group(step, name + "(")
    for idx, arg in enumerate(getattr(obj, "args", ())):
        if idx:
            p.text(",")
            p.breakable()
        p.pretty(arg)
    p.end_group(step, ")")


_PPRINTERS = None


def _pprinters():
    global _PPRINTERS
    if _PPRINTERS is None:
        import datetime
        import re
        _PPRINTERS = {
            int: _repr_pprint, float: _repr_pprint, str: _repr_pprint,
            tuple: _seq_printer("(", ")", tuple), list: _seq_printer("[", "]", list),
            dict: _dict_printer("{", "}", dict),
            set: _set_printer("{", "}", set), frozenset: _set_printer("frozenset({", "})", frozenset),
            super: _super_pprint, type(re.compile("")): _re_pattern_pprint,
            type: _type_pprint, _types.FunctionType: _function_pprint,
            _types.BuiltinFunctionType: _builtin_pprint, BaseException: _exception_pprint,
            slice: _repr_pprint, range: _repr_pprint, bytes: _repr_pprint,
            datetime.datetime: _repr_pprint, datetime.timedelta: _repr_pprint,
            _types.MethodType: _repr_pprint,
        }
    return _PPRINTERS


def _deferred_printer(cls):
    mod, name = getattr(cls, "__module__", None), getattr(cls, "__name__", None)
    if mod != "collections":
        return None
    if name == "OrderedDict":
        def pp(obj, p, cycle):
            name = obj.__class__.__name__
            with p.group(len(name) + 1, name + "(", ")"):
                if cycle:
                    p.text("...")
                elif len(obj):
                    p.pretty(list(obj.items()))
        return pp
    if name == "defaultdict":
        def pp(obj, p, cycle):
            name = obj.__class__.__name__
            with p.group(len(name) + 1, name + "(", ")"):
                if cycle:
                    p.text("...")
                else:
                    p.pretty(obj.default_factory)
                    p.text(",")
                    p.breakable()
                    p.pretty(dict(obj))
        return pp
    if name == "deque":
        def pp(obj, p, cycle):
            name = obj.__class__.__name__
            with p.group(len(name) + 1, name + "(", ")"):
                if cycle:
                    p.text("...")
                else:
                    p.pretty(list(obj))
        return pp
    if name == "Counter":
        def pp(obj, p, cycle):
            name = obj.__class__.__name__
            with p.group(len(name) + 1, name + "(", ")"):
                if cycle:
                    p.text("...")
                elif len(obj):
                    p.pretty(dict(obj))
        return pp
    return None


def _pretty(obj):
    p = _Pretty()
    p.pretty(obj)
    return p.getvalue()


# --------------------------------------------------------------------------------------------
# Rich display: what IPython's DisplayFormatter produces.
_MIME_METHODS = [
    ("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"), ("image/png", "_repr_png_"), ("application/pdf", "_repr_pdf_"),
    ("image/jpeg", "_repr_jpeg_"), ("text/latex", "_repr_latex_"), ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
]
_BINARY = ("image/png", "image/jpeg", "application/pdf")


def _clean(mime, value):
    if mime in _BINARY and isinstance(value, (bytes, bytearray)):
        return _base64.b64encode(bytes(value)).decode("ascii")
    if mime == "application/json":
        if isinstance(value, str):
            value = _json.loads(value)
        return _json.loads(_json.dumps(value, default=str))
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if mime == "text/plain" or mime.startswith("text/") or mime == "image/svg+xml":
        return value if isinstance(value, str) else str(value)
    return value


def _figure_formats(fig):
    out = {}
    if not fig.axes and not fig.lines:
        return out
    import io
    for fmt in sorted(_wf.figure_formats):
        kw = dict(facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor(), dpi=fig.dpi,
                  bbox_inches="tight")
        mime = {"png": "image/png", "retina": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg",
                "svg": "image/svg+xml", "pdf": "application/pdf"}.get(fmt)
        if mime is None:
            continue
        if fmt == "retina":
            kw["dpi"] = fig.dpi * 2
            fmt = "png"
        buf = io.BytesIO()
        if fig.canvas is None:
            from matplotlib.backend_bases import FigureCanvasBase
            FigureCanvasBase(fig)
        fig.canvas.print_figure(buf, format=fmt, **kw)
        data = buf.getvalue()
        out[mime] = data.decode("utf-8") if fmt == "svg" else _base64.b64encode(data).decode("ascii")
    return out


def _format(obj, include=None, exclude=None):
    """(data, metadata) for obj, like IPython's DisplayFormatter.format."""
    import inspect
    data, md = {}, {}
    is_class = inspect.isclass(obj)
    if not is_class:
        mb = _pget(obj, "_repr_mimebundle_", None)
        if callable(mb):
            try:
                r = mb(include=include, exclude=exclude)
            except TypeError:
                r = mb()
            except Exception:
                r = None
            if isinstance(r, tuple):
                r, m = r
                md.update(m or {})
            if r:
                for k, v in r.items():
                    data[k] = _clean(k, v)
        mods = _sys.modules
        if "matplotlib.figure" in mods and isinstance(obj, mods["matplotlib.figure"].Figure):
            for k, v in _figure_formats(obj).items():
                data.setdefault(k, v)
        for mime, meth in _MIME_METHODS:
            if mime in data:
                continue
            reg = _WfShell.display_formatter.formatters[mime].lookup(obj)
            if reg is not None:
                try:
                    r = reg(obj)
                except Exception:
                    r = None
                if r is not None:
                    data[mime] = _clean(mime, r)
                continue
            f = _pget(obj, meth, None)
            if not callable(f):
                continue
            try:
                r = f()
            except Exception:
                continue
            if r is None:
                continue
            if isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], dict):
                r, m = r
                md[mime] = m
            if mime in ("text/html", "text/markdown", "text/latex", "image/svg+xml",
                        "application/javascript") and not isinstance(r, str):
                continue
            data[mime] = _clean(mime, r)
    if "text/plain" not in data:
        data["text/plain"] = _pretty(obj)
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return data, md


class _DisplayHandle:
    def __init__(self, display_id=None):
        import uuid
        self.display_id = display_id or uuid.uuid4().hex

    def __repr__(self):
        return "<%s display_id=%s>" % (self.__class__.__name__, self.display_id)

    def display(self, obj, **kwargs):
        _display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs):
        _display(obj, display_id=self.display_id, update=True, **kwargs)


_DisplayHandle.__name__ = _DisplayHandle.__qualname__ = "DisplayHandle"


class _RichOutput:
    """One display captured by %%capture."""

    def __init__(self, data, metadata, transient=None, update=False):
        self.data, self.metadata, self.transient, self.update = data, metadata, transient or {}, update

    def display(self):
        _R.publish(self.data, self.metadata, self.transient, self.update)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.data, self.metadata


def _display(*objs, include=None, exclude=None, metadata=None, transient=None, display_id=None,
             raw=False, clear=False, update=False, **kwargs):
    """IPython's display()."""
    if clear:
        _clear_output(wait=True)
    transient = dict(transient or {})
    if display_id:
        if display_id is True:
            import uuid
            display_id = uuid.uuid4().hex
        transient["display_id"] = display_id
    if update and "display_id" not in transient:
        raise TypeError("display_id required for update_display")
    if not objs and display_id:
        return _DisplayHandle(display_id)
    for obj in objs:
        if raw:
            _R.publish(dict(obj), dict(metadata or {}), transient, update)
            continue
        ipd = None if isinstance(obj, type) else _pget(obj, "_ipython_display_", None)
        if callable(ipd):
            ipd()
            continue
        data, md = _format(obj, include, exclude)
        if not data:
            continue
        if metadata:
            md.update(metadata)
        _R.publish(data, md, transient, update)
    if display_id:
        return _DisplayHandle(display_id)


def _update_display(obj, *, display_id, **kwargs):
    kwargs["update"] = True
    _display(obj, display_id=display_id, **kwargs)


def _clear_output(wait=False):
    _R.clear_output(wait)


def _publish_display_data(data, metadata=None, source=None, *, transient=None, **kwargs):
    _R.publish(dict(data), dict(metadata or {}), dict(transient or {}), kwargs.get("update", False))


display = _display
_builtins.display = _display


# --------------------------------------------------------------------------------------------
# Output capture: sys.stdout/sys.stderr and the process's fds 1 and 2, buffered per stream and
# flushed like ipykernel's OutStream (on flush(), before displays and errors, every 0.2 s).
class _OutStream:
    encoding = "utf-8"
    errors = "strict"
    newlines = None

    def __init__(self, name, fd):
        self.name, self._fd, self._buf, self._t0 = name, fd, [], 0.0

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if s:
            _R.stream_write(self, s)
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        _R.flush_stream(self)

    def isatty(self):
        return False

    def fileno(self):
        return self._fd

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    @property
    def closed(self):
        return False

    @property
    def buffer(self):
        return _BytesOut(self)


class _BytesOut:
    def __init__(self, stream):
        self._s = stream

    def write(self, b):
        self._s.write(bytes(b).decode("utf-8", "replace"))
        return len(b)

    def flush(self):
        self._s.flush()


class _StdinNotImplementedError(NotImplementedError):
    pass


_StdinNotImplementedError.__name__ = _StdinNotImplementedError.__qualname__ = "StdinNotImplementedError"


def _no_input(prompt=""):
    raise _StdinNotImplementedError(
        "raw_input was called, but this frontend does not support input requests.")


def _murmur2(data, seed=0xC70F6907):
    """ipykernel's cell file name hash (it shows in SyntaxError messages)."""
    m = 0x5BD1E995
    data = data.encode("utf8")
    length = len(data)
    h = seed ^ length
    rounded_end = length & 0xFFFFFFFC
    for i in range(0, rounded_end, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    val = length & 0x03
    k = 0
    if val == 3:
        k = data[rounded_end + 2] << 16
    if val in (2, 3):
        k |= data[rounded_end + 1] << 8
    if val in (1, 2, 3):
        k |= data[rounded_end]
        h ^= k
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


class _CellError(Exception):
    pass


class _Runner:
    def __init__(self, events_fd, plan):
        self.events_fd = events_fd
        self.plan = plan
        self.lock = _threading.RLock()
        self.count = 0
        self.cell_index = -1
        self.cell_filename = None
        self.cell_filenames = {}
        self.cell_status = None
        self.ns = None
        self.out_hist = {}
        self.in_hist = [""]
        self.tmpdir = "/tmp/ipykernel_%d" % _os.getpid()
        self.draw_called = False

    # --- events ---
    def emit(self, ev):
        data = (_json.dumps(ev, ensure_ascii=False, allow_nan=True) + "\n").encode("utf-8")
        with self.lock:
            view = memoryview(data)
            while view:
                n = _os.write(self.events_fd, view)
                view = view[n:]

    def stream_write(self, stream, s):
        with self.lock:
            if self.cell_index < 0:
                return
            self.emit({"e": "log", "name": stream.name, "text": s})
            if not stream._buf:
                stream._t0 = _time.monotonic()
            stream._buf.append(s)

    def flush_stream(self, stream):
        with self.lock:
            if stream._buf:
                text = "".join(stream._buf)
                stream._buf = []
                self.emit({"e": "output", "output": {"output_type": "stream", "name": stream.name,
                                                     "text": text}})

    def flush_streams(self):
        with self.lock:
            self.drain_fds()
            self.flush_stream(self.stdout)
            self.flush_stream(self.stderr)

    def publish(self, data, metadata, transient, update=False):
        if _wf_capture_stack:
            _wf_capture_stack[-1].append(_RichOutput(data, metadata, transient, update))
            return
        _sys.stdout.flush() if _sys.stdout is not self.stdout else None
        self.flush_streams()
        did = (transient or {}).get("display_id")
        if update:
            self.emit({"e": "update", "display_id": did, "data": data, "metadata": metadata})
            return
        self.emit({"e": "output", "display_id": did,
                   "output": {"output_type": "display_data", "data": data, "metadata": metadata}})

    def clear_output(self, wait):
        self.flush_streams()
        self.emit({"e": "clear", "wait": bool(wait)})

    # --- fd capture ---
    def setup_io(self):
        self.real_stderr = _os.dup(2)
        _os.set_inheritable(self.real_stderr, False)
        self.pipes = {}
        self.stdout = _OutStream("stdout", 1)
        self.stderr = _OutStream("stderr", 2)
        for fd, stream in ((1, self.stdout), (2, self.stderr)):
            r, w = _os.pipe()
            _os.dup2(w, fd)
            _os.close(w)
            _os.set_blocking(r, False)
            _os.set_inheritable(r, False)
            self.pipes[r] = (stream, __import__("codecs").getincrementaldecoder("utf-8")("replace"))
        _sys.stdout, _sys.stderr = self.stdout, self.stderr
        _sys.__stdout__, _sys.__stderr__ = self.stdout, self.stderr
        try:
            import faulthandler
            faulthandler.enable(file=self.real_stderr)
        except Exception:
            pass
        t = _threading.Thread(target=self.pump, name="wfrun-io", daemon=True)
        t.start()

    def drain_fds(self):
        with self.lock:
            for r, (stream, dec) in self.pipes.items():
                while True:
                    try:
                        chunk = _os.read(r, 65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    if not chunk:
                        break
                    text = dec.decode(chunk)
                    if text:
                        self.stream_write(stream, text)

    def pump(self):
        import select
        while True:
            try:
                select.select(list(self.pipes), [], [], 0.05)
            except Exception:
                pass
            with self.lock:
                self.drain_fds()
                now = _time.monotonic()
                due = [s for s in (self.stdout, self.stderr) if s._buf and now - s._t0 >= 0.2]
                for s in sorted(due, key=lambda s: s._t0):
                    self.flush_stream(s)

    # --- namespace ---
    def setup_ns(self):
        main = _types.ModuleType("__main__")
        ns = main.__dict__
        ns.update({"__builtins__": _builtins, "__name__": "__main__", "__doc__": None,
                   "__package__": None, "__loader__": None, "__spec__": None})
        _sys.modules["__main__"] = main
        ns["_ih"] = ns["In"] = self.in_hist
        ns["_oh"] = ns["Out"] = self.out_hist
        ns["_dh"] = [_os.getcwd()]
        ns["_"] = ns["__"] = ns["___"] = ""
        ns["_i"] = ns["_ii"] = ns["_iii"] = ""
        ns["exit"] = ns["quit"] = _Exiter()
        self.ns = ns
        _wf.user_ns = ns
        _wf.run_cell = self.run_nested
        _wf.input_hist_parsed = self.in_hist
        _wf.input_hist_raw = [""]
        _wf.output_hist_reprs = {}
        import uuid
        _wf.parent_header = {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request",
                                        "session": uuid.uuid4().hex, "username": "wfrun",
                                        "version": "5.3"}}
        _builtins.get_ipython = lambda: _wf
        _builtins.input = _no_input
        _builtins._wf = _wf
        _sys.displayhook = self.displayhook
        _sys.argv = [_sys.argv[0]]
        # Like IPython: the working folder comes first on the module path.
        if _sys.path and _os.path.dirname(_os.path.abspath(_sys.argv[0])) == _os.path.abspath(_sys.path[0]):
            _sys.path[0] = ""
        else:
            _sys.path.insert(0, "")

    def displayhook(self, value):
        if value is None:
            return
        if _wf_capture_stack and getattr(self, "quiet_capture", False):
            pass
        ns = self.ns
        if "_" not in ns or ns["_"] is self.last_:
            ns["___"], ns["__"], ns["_"] = ns.get("__"), ns.get("_"), value
            self.last_ = value
        ns["_%d" % self.count] = value
        self.out_hist[self.count] = value
        data, md = _format(value)
        _wf.output_hist_reprs[self.count] = data.get("text/plain")
        if _wf_capture_stack:
            _wf_capture_stack[-1].append(_RichOutput(data, md))
            return
        self.flush_streams()
        self.emit({"e": "output", "output": {"output_type": "execute_result", "data": data,
                                             "metadata": md, "execution_count": self.count}})

    last_ = ""

    # --- matplotlib ---
    def flush_figures(self):
        mods = _sys.modules
        if "matplotlib.pyplot" not in mods or not self.draw_called:
            return
        self.draw_called = False
        plt = mods["matplotlib.pyplot"]
        if plt.get_backend() != "module://_wfrun_inline":
            return
        from matplotlib._pylab_helpers import Gcf
        managers = Gcf.get_all_fig_managers()
        try:
            for m in managers:
                _display(m.canvas.figure)
        finally:
            if managers:
                plt.close("all")

    # --- execution ---
    def compile_cell(self, code, raw):
        name = "%s/%d.py" % (self.tmpdir, _murmur2(raw))
        import linecache
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        return name

    def run_code(self, code, filename, interactive, glob=None, local=None):
        """Runs a cell's code; the last expression statement goes through the displayhook."""
        glob = self.ns if glob is None else glob
        flags = _ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        tree = compile(code, filename, "exec", _ast.PyCF_ONLY_AST | flags, dont_inherit=True)
        nodes = tree.body
        last = None
        if interactive and nodes and isinstance(nodes[-1], _ast.Expr) and not _quiet(code):
            last = nodes[-1]
            nodes = nodes[:-1]
        for node in nodes:
            mod = _ast.Module([node], [])
            self._run(compile(mod, filename, "exec", flags, dont_inherit=True), glob, local)
        if last is not None:
            mod = _ast.Interactive([last])
            self._run(compile(mod, filename, "single", flags, dont_inherit=True), glob, local)

    def _run(self, code, glob, local):
        import inspect
        if code.co_flags & inspect.CO_COROUTINE:
            import asyncio
            coro = eval(code, glob, local)
            loop = getattr(self, "loop", None) or asyncio.new_event_loop()
            self.loop = loop
            loop.run_until_complete(coro)
        else:
            exec(code, glob, local)

    def run_nested(self, code, glob=None, local=None, silent=False, capture=False):
        """A cell body run by a magic (%%capture, %%time): like a cell, then figures."""
        filename = self.cell_filename or "<cell>"
        self.run_code("\n" + code, filename, True, glob, local)
        if capture:
            self.flush_figures()

    def error_output(self, etype, value, tb):
        ename = etype.__name__
        evalue = str(value)
        lines = []
        if issubclass(etype, SystemExit):
            trace = ["An exception has occurred, use %tb to see the full traceback.\n",
                     "\x1b[0;31mSystemExit\x1b[0m%s\n" % (": " + evalue if evalue else "")]
        else:
            import traceback
            frames = traceback.extract_tb(tb)
            # Drop the runner's own frames, as IPython hides its own.
            frames = [f for f in frames if f.filename != __file__]
            if issubclass(etype, SyntaxError):
                trace = traceback.format_exception_only(etype, value)
            else:
                trace = ["-" * 75, "%s%sTraceback (most recent call last)" %
                         (ename, " " * max(1, 42 - len(ename)))]
                trace += traceback.format_list(frames)
                # IPython's last line names the exception's class alone (not subprocess.X).
                trace.append("%s: %s" % (ename, evalue))
            for f in frames:
                if f.filename == self.cell_filename:
                    lines.append(f.lineno)
        line = lines[-1] if lines else None
        if issubclass(etype, SyntaxError) and getattr(value, "filename", None) == self.cell_filename:
            line = value.lineno
        if line is not None:
            line -= self.line_offset
        return ({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": trace},
                line)

    def run_cell(self, cell, n, total):
        raw, code = cell["source"], cell["code"]
        self.count += 1
        self.cell_index = cell["index"]
        self.line_offset = cell.get("line_offset", 0)
        start = _iso_now()
        self.emit({"e": "start", "cell": cell["index"], "n": n, "total": total,
                   "execution_count": self.count, "time": start})
        ns = self.ns
        self.in_hist.append(code)
        _wf.input_hist_raw.append(raw)
        ns["_iii"], ns["_ii"], ns["_i"] = ns["_ii"], ns["_i"], self.in_hist[-2]
        ns["_i%d" % self.count] = code
        status, err, line = "ok", None, None
        self.cell_filename = self.compile_cell(code, raw)
        try:
            try:
                self.run_code(code, self.cell_filename, True)
            finally:
                if _wf_capture_stack:
                    del _wf_capture_stack[:]
                if _sys.stdout is not self.stdout or _sys.stderr is not self.stderr:
                    pass
            self.flush_figures()
        except KeyboardInterrupt:
            raise
        except BaseException:
            etype, value, tb = _sys.exc_info()
            tb = tb.tb_next if tb else tb  # from the cell's own frame on
            # Like IPython's showtraceback: what %debug, %tb and pdb.pm() look at (without the
            # runner's own frames).
            user_tb = tb
            while user_tb is not None and user_tb.tb_frame.f_code.co_filename == __file__:
                user_tb = user_tb.tb_next
            _sys.last_type, _sys.last_value = etype, value
            _sys.last_traceback = user_tb if user_tb is not None else tb
            out, line = self.error_output(etype, value, tb)
            self.flush_streams()
            if issubclass(etype, _WfUsageError):
                # IPython shows a magic's usage error as a line on stderr, not a traceback (the
                # cell still fails).
                self.stderr.write("UsageError: %s\n" % value)
                self.flush_stream(self.stderr)
            else:
                self.emit({"e": "output", "output": out})
            status, err = "error", out
            if etype is SystemExit or issubclass(etype, SystemExit):
                _sys.stderr.write(
                    "%s:3386: UserWarning: To exit: use 'exit', 'quit', or Ctrl-D.\n"
                    "  warn(\"To exit: use 'exit', 'quit', or Ctrl-D.\", stacklevel=1)\n"
                    % _ipython_shell_path())
            try:
                self.flush_figures()
            except Exception:
                pass
        _sys.stdout.flush() if _sys.stdout is not self.stdout else None
        self.flush_streams()
        end = {"e": "end", "cell": cell["index"], "status": status, "time": _iso_now()}
        if err is not None:
            end["ename"], end["evalue"] = err["ename"], err["evalue"]
            if line is not None:
                end["line"] = line
        self.emit(end)
        self.cell_index = -1
        return status


def _ipython_shell_path():
    import importlib.util
    try:
        spec = importlib.util.find_spec("IPython")
        if spec and spec.origin:
            return _os.path.join(_os.path.dirname(spec.origin), "core", "interactiveshell.py")
    except Exception:
        pass
    return "/usr/lib/python3/dist-packages/IPython/core/interactiveshell.py"


class _Exiter:
    def __repr__(self):
        return "Use exit() or Ctrl-D (i.e. EOF) to exit"

    def __call__(self, *a):
        raise SystemExit(*a)


def _quiet(code):
    """A trailing `;` suppresses the displayed value, as in IPython."""
    import io
    import tokenize
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except Exception:
        return code.rstrip().endswith(";")
    for tok in reversed(toks):
        if tok.type in (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                        tokenize.DEDENT, tokenize.INDENT):
            continue
        return tok.type == tokenize.OP and tok.string == ";"
    return False


def _iso_now():
    import datetime
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------------------------
# Modules: an inline matplotlib backend, and IPython's display functions routed to ours.
_BACKEND_SRC = r'''
import matplotlib
from matplotlib.backends import backend_agg
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.figure import Figure
from matplotlib._pylab_helpers import Gcf

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def new_figure_manager(num, *args, FigureClass=Figure, **kwargs):
    return new_figure_manager_given_figure(num, FigureClass(*args, **kwargs))


def new_figure_manager_given_figure(num, figure):
    manager = backend_agg.new_figure_manager_given_figure(num, figure)
    if not hasattr(figure, "show"):
        figure.show = lambda *a: display(figure)
    if not matplotlib.is_interactive():
        return manager
    _runner.draw_called = True
    return manager


def draw_if_interactive():
    if matplotlib.is_interactive() and Gcf.get_active() is not None:
        _runner.draw_called = True


def show(close=None, block=None):
    managers = Gcf.get_all_fig_managers()
    try:
        for m in managers:
            display(m.canvas.figure)
    finally:
        if managers:
            import matplotlib.pyplot
            matplotlib.pyplot.close("all")


matplotlib.interactive(True)
'''


class _Finder:
    """Supplies our backend module and patches IPython's display functions when imported."""

    patch = {"IPython.core.display_functions", "IPython.core.getipython", "IPython.core.display",
             "IPython.display"}

    def find_spec(self, name, path=None, target=None):
        # importlib.util is imported before this finder is installed (see _main): importing it
        # here would ask this very finder again, recursing without end on Pythons whose site
        # does not import it first.
        importlib = _sys.modules["importlib"]
        if name == "_wfrun_inline":
            return importlib.util.spec_from_loader(name, _BackendLoader())
        if name in self.patch:
            _sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(name)
            finally:
                _sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return None
            spec.loader = _PatchLoader(spec.loader)
            return spec
        return None


class _BackendLoader:
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__dict__["display"] = _display
        module.__dict__["_runner"] = _R
        exec(compile(_BACKEND_SRC, "<wfrun inline backend>", "exec"), module.__dict__)


class _PatchLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        d = module.__dict__
        for k, v in (("display", _display), ("update_display", _update_display),
                     ("clear_output", _clear_output), ("publish_display_data", _publish_display_data),
                     ("get_ipython", lambda: _wf)):
            if k in d:
                d[k] = v


def _main():
    global _R
    if _sys.version_info < (3, 8):
        _os.write(2, ("wfrun: the notebook runner needs Python 3.8 or newer; %s is Python %s\n"
                      % (_sys.executable or "python", _sys.version.split()[0])).encode())
        _os._exit(3)
    with open(_sys.argv[1], encoding="utf-8") as f:
        plan = _json.load(f)
    # The event channel: an inherited fd on the host; in a container, a FIFO in the mounted
    # scratch folder (docker has no way to pass an fd in). Opened write-only, it blocks until
    # wfrun's read end is open, which it is before the runner starts.
    events_path = _os.environ.pop("WFRUN_NB_EVENTS_PATH", None)
    if events_path:
        events_fd = _os.open(events_path, _os.O_WRONLY)
    else:
        events_fd = int(_os.environ.pop("WFRUN_NB_EVENTS_FD"))
    _os.set_inheritable(events_fd, False)
    _R = _Runner(events_fd, plan)
    for k, v in (("TERM", "xterm-color"), ("CLICOLOR", "1"), ("PAGER", "cat"), ("GIT_PAGER", "cat")):
        _os.environ[k] = v
    _os.environ.setdefault("MPLBACKEND", "module://_wfrun_inline")
    import importlib.machinery  # noqa: F401  (before the finder: see _Finder.find_spec)
    import importlib.util  # noqa: F401
    _sys.meta_path.insert(0, _Finder())
    _R.setup_io()
    _R.setup_ns()
    cells = plan["cells"]
    allow_errors = plan.get("allow_errors", False)
    _R.emit({"e": "ready", "pid": _os.getpid()})
    failed = False
    for n, cell in enumerate(cells, 1):
        status = _R.run_cell(cell, n, len(cells))
        if status == "error" and not allow_errors and "raises-exception" not in cell.get("tags", []):
            failed = True
            break
    _R.emit({"e": "done", "failed": failed})
    _sys.stdout.flush()
    _sys.stderr.flush()
    _os._exit(0)


class _ShellExtras:
    pass


# get_ipython() returns _wf: give it the attributes code commonly touches.


# get_ipython().display_pub and .kernel.session.send() (introspection.py) publish through these.
def _shell_publish(self, data, metadata=None, transient=None, update=False):
    _R.publish(data, dict(metadata or {}), dict(transient or {}), update)


def _shell_publish_result(self, data, metadata=None, transient=None, execution_count=None):
    if _wf_capture_stack:
        _wf_capture_stack[-1].append(_RichOutput(data, metadata or {}, transient))
        return
    _R.flush_streams()
    did = (transient or {}).get("display_id")
    _R.emit({"e": "output", "display_id": did,
             "output": {"output_type": "execute_result", "data": data, "metadata": metadata or {},
                        "execution_count": execution_count}})


def _shell_stream(self, name, text):
    stream = _R.stderr if name == "stderr" else _R.stdout
    stream.write(text)
    stream.flush()


_WfShell._publish = _shell_publish
_WfShell._publish_result = _shell_publish_result
_WfShell._clear_output = lambda self, wait=False: _R.clear_output(wait)
_WfShell._stream = _shell_stream
_WfShell.config = {}
_WfShell.__name__ = _WfShell.__qualname__ = "ZMQInteractiveShell"  # libraries sniff this name


class _Events:
    def register(self, *a, **k):
        pass

    def unregister(self, *a, **k):
        pass


_WfShell.events = _Events()


def _shell_execution_count(self):
    return _R.count if _R else 0


_WfShell.execution_count = property(_shell_execution_count)
_WfShell.ev = lambda self, expr: eval(expr, self.user_ns)
_WfShell.ex = lambda self, cmd: exec(cmd, self.user_ns)
_WfShell.push = lambda self, variables, interactive=True: self.user_ns.update(variables)
_WfShell.set_next_input = lambda self, *a, **k: None
_WfShell.magic = lambda self, line: self.line_magic(*(line.lstrip("%").split(" ", 1) + [""])[:2], _depth=1)


class _TypeFormatter:
    """One MIME type's printers registered by libraries (sympy's init_printing, ...)."""

    def __init__(self, mime):
        self.format_type, self.type_printers, self.deferred_printers = mime, {}, {}
        self.enabled = True

    def for_type(self, typ, func=None):
        old = self.type_printers.get(typ)
        if func is not None:
            self.type_printers[typ] = func
        return old

    def for_type_by_name(self, module, name, func=None):
        old = self.deferred_printers.get((module, name))
        if func is not None:
            self.deferred_printers[(module, name)] = func
        return old

    def pop(self, typ, default=None):
        return self.type_printers.pop(typ, default)

    def lookup_cls(self, cls):
        if cls in self.type_printers:
            return self.type_printers[cls]
        key = (getattr(cls, "__module__", None), getattr(cls, "__name__", None))
        if key in self.deferred_printers:
            self.type_printers[cls] = self.deferred_printers.pop(key)
            return self.type_printers[cls]
        return None

    def lookup(self, obj):
        for cls in getattr(type(obj), "__mro__", (type(obj),)):
            if cls in self.type_printers:
                return self.type_printers[cls]
            key = (getattr(cls, "__module__", None), getattr(cls, "__name__", None))
            if key in self.deferred_printers:
                self.type_printers[cls] = self.deferred_printers.pop(key)
                return self.type_printers[cls]
        return None


class _DisplayFormatter:
    def __init__(self):
        self.formatters = {m: _TypeFormatter(m) for m in ["text/plain"] + [m for m, _ in _MIME_METHODS]}

    def format(self, obj, include=None, exclude=None):
        return _format(obj, include, exclude)


_WfShell.display_formatter = _DisplayFormatter()
_WfShell.colors = "NoColor"
_WfShell.set_hook = lambda self, *a, **k: None

if __name__ == "__main__":
    # The runner's own failures must reach wfrun, which shows them: sys.stderr may already be
    # a per-cell capture here, so write the traceback to the real stderr (fd 2 at start).
    _real_stderr = _os.dup(2)
    try:
        _main()
    except SystemExit:
        raise
    except BaseException:
        import traceback as _tb
        _os.write(_real_stderr, ("wfrun notebook runner failed:\n" + _tb.format_exc()).encode())
        _os._exit(1)
