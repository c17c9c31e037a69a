"""GUI test harness: run Vireo in a private session and drive it over AT-SPI.

A `Session` owns everything it starts: an Xvfb on a free display (`-displayfd`), a private
D-Bus session bus, the AT-SPI bus (`at-spi-bus-launcher`, which brings the a11y bus and
`at-spi2-registryd`) and the applications launched with `Session.launch`. `close()` stops
them by PID (TERM, then KILL), and then any process still descending from this script
(the script is a child subreaper, so orphans such as the registry daemon are re-parented to
it); it runs from `finally`, from `atexit` and on SIGTERM/SIGINT/SIGHUP.

The accessibility tree is read with plain D-Bus calls through Gio (no libatspi cache: every
read is what the application shows *now*); big reads are pipelined. The Atspi typelib is
used only for role and state numbers. Run with Debian's /usr/bin/python3 (python3-gi,
gir1.2-atspi-2.0).

Typical use::

    with harness.Session() as s:
        app = s.launch(vireo, ["--connect", uri], env={"VIREO_RESYNC_INTERVAL": "0"})
        app.wait_window()
        lst = app.wait_for("list", r"Virtual machines: \\d+")
        app.click(app.wait_for("button", "Run"))

Names are matched with `re.fullmatch` (pass a compiled pattern or use `.*` for more).
Roles are the words of docs/accessibility.md ("button", "list item", "text", ...), each
standing for the AT-SPI roles GTK 4.8 gives such widgets (see ROLE_ALIASES), or None.

GTK4 list views only put the rows that are on screen into the tree: to check a row that may
be scrolled away, filter the list (`reveal_row`) or check the count in the list's name.
"""

import atexit
import ctypes
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("Atspi", "2.0")
gi.require_version("Gio", "2.0")
from gi.repository import Atspi, Gio, GLib  # noqa: E402

# --------------------------------------------------------------------------------------------
# AT-SPI vocabulary
# --------------------------------------------------------------------------------------------

ACC = "org.a11y.atspi.Accessible"
ACTION = "org.a11y.atspi.Action"
COMPONENT = "org.a11y.atspi.Component"
EDITABLE = "org.a11y.atspi.EditableText"
SELECTION = "org.a11y.atspi.Selection"
TEXT = "org.a11y.atspi.Text"
PROPS = "org.freedesktop.DBus.Properties"
ROOT_PATH = "/org/a11y/atspi/accessible/root"
NULL_PATH = "/org/a11y/atspi/null"
REGISTRY = "org.a11y.atspi.Registry"
DEC_PATH = "/org/a11y/atspi/registry/deviceeventcontroller"
DEC = "org.a11y.atspi.DeviceEventController"


def _role(name):
    return int(getattr(Atspi.Role, name))


def _state(name):
    return int(getattr(Atspi.StateType, name))


# The roles in docs/accessibility.md and the AT-SPI roles GTK 4.8 / libadwaita 1.2 use for
# them (GtkSearchEntry is an "entry", GtkText a "text"; a GtkListView is a "list" and a
# GtkListBox a "list box"; a menu button may be exposed as its inner toggle button).
ROLE_ALIASES = {
    "button": {_role("PUSH_BUTTON")},
    "toggle button": {_role("TOGGLE_BUTTON"), _role("PUSH_BUTTON")},
    "menu button": {_role("PUSH_BUTTON"), _role("TOGGLE_BUTTON"), _role("MENU")},
    "check button": {_role("CHECK_BOX"), _role("TOGGLE_BUTTON")},
    "text": {_role("TEXT"), _role("ENTRY"), _role("PASSWORD_TEXT")},
    "label": {_role("LABEL"), _role("STATIC"), _role("HEADING")},
    "list": {_role("LIST"), _role("LIST_BOX"), _role("TABLE"), _role("TREE"),
             _role("TREE_TABLE")},
    "list item": {_role("LIST_ITEM"), _role("TABLE_ROW"), _role("TREE_ITEM")},
    "dialog": {_role("DIALOG"), _role("ALERT"), _role("FRAME"), _role("WINDOW"),
               _role("FILE_CHOOSER")},
    "combo": {_role("COMBO_BOX")},
    "window": {_role("FRAME"), _role("WINDOW"), _role("DIALOG"), _role("ALERT")},
}
TOPLEVEL_ROLES = ROLE_ALIASES["window"]

SHOWING = _state("SHOWING")
VISIBLE = _state("VISIBLE")
SENSITIVE = _state("SENSITIVE")
ENABLED = _state("ENABLED")
SELECTED = _state("SELECTED")
CHECKED = _state("CHECKED")
PRESSED = _state("PRESSED")
FOCUSED = _state("FOCUSED")


def role_name(role):
    try:
        return Atspi.role_get_name(Atspi.Role(role))
    except Exception:
        return "role-%s" % role


def _roles(role):
    """A contract role word, an AT-SPI role name ("push button"), a number, a set, or None."""
    if role is None:
        return None
    if isinstance(role, int):
        return {role}
    if isinstance(role, (set, frozenset, list, tuple)):
        out = set()
        for r in role:
            out |= _roles(r)
        return out
    if role in ROLE_ALIASES:
        return ROLE_ALIASES[role]
    key = role.strip().upper().replace(" ", "_")
    if hasattr(Atspi.Role, key):
        return {_role(key)}
    raise ValueError("unknown role %r" % role)


def _state_set(words):
    out = set()
    for w, bits in enumerate(words):
        for b in range(32):
            if bits & (1 << b):
                out.add(w * 32 + b)
    return out


def state_names(states):
    names = []
    for s in sorted(states):
        try:
            names.append(Atspi.StateType(s).value_nick)
        except Exception:
            names.append(str(s))
    return names


def _matcher(name):
    if name is None:
        return lambda _n: True
    rx = name if isinstance(name, re.Pattern) else re.compile(name)
    return lambda n: rx.fullmatch(n or "") is not None


class HarnessError(Exception):
    """The session or the application failed (not an assertion about the application)."""


class WaitTimeout(AssertionError):
    """A wait_* helper gave up; the message says what was awaited and what was there."""


def log(msg):
    print("[gui %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def become_subreaper():
    """Orphaned descendants (daemons started by the buses we start) get re-parented to
    this process instead of init, so teardown can find them by their parent PID."""
    global _subreaper
    if _subreaper:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        _subreaper = False


def _stat_fields(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()


def alive(pid):
    st = _stat_fields(pid)
    return st is not None and st[0] not in ("Z", "X")


def descendants(root):
    """PIDs of the live descendants of `root` (not root itself)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat_fields(int(d))
            if st:
                kids.setdefault(int(st[1]), []).append(int(d))
    out, stack = [], list(kids.get(root, []))
    while stack:
        p = stack.pop()
        if p not in out:
            out.append(p)
            stack.extend(kids.get(p, []))
    return out


def proc_cpu_ticks(pid):
    st = _stat_fields(pid)
    return int(st[11]) + int(st[12]) if st else None


def proc_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def stop_process(proc, name, timeout=5.0):
    """TERM, then KILL after `timeout`, one Popen; waits for it."""
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            if sig == signal.SIGTERM:
                log("%s (pid %d) ignored SIGTERM for %.0fs: SIGKILL" % (name, proc.pid, timeout))
    proc.wait(5)


def stop_pids(pids, timeout=3.0):
    """TERM then KILL the given PIDs (our own descendants only)."""
    pids = [p for p in pids if alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap()
            pids = [p for p in pids if alive(p)]
            if not pids:
                return
            time.sleep(0.05)


def _reap():
    """Collect exit statuses of re-parented orphans (only ours are ever our children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# Cleanups registered by sessions and fixtures, run LIFO at exit or on a signal.
_cleanups = []


def add_cleanup(fn, *args):
    _cleanups.append((fn, args))
    return (fn, args)


def remove_cleanup(entry):
    if entry in _cleanups:
        _cleanups.remove(entry)


def run_cleanups():
    while _cleanups:
        fn, args = _cleanups.pop()
        try:
            fn(*args)
        except Exception as e:  # keep cleaning up
            log("cleanup %s failed: %s" % (getattr(fn, "__name__", fn), e))


def _on_signal(signum, _frame):
    # Unwind through the `finally` blocks of the test, then atexit.
    raise SystemExit(128 + signum)


atexit.register(run_cleanups)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


# --------------------------------------------------------------------------------------------
# AT-SPI over raw D-Bus
# --------------------------------------------------------------------------------------------

class A11yBus:
    """A connection to the accessibility bus."""

    def __init__(self, address):
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                 | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
        self.ctx = GLib.MainContext.default()
        self._types = {}

    def _vt(self, sig):
        if sig is None:
            return None
        t = self._types.get(sig)
        if t is None:
            t = self._types[sig] = GLib.VariantType(sig)
        return t

    def call(self, bus, path, iface, method, args=None, rtype=None, timeout_ms=5000):
        r = self.conn.call_sync(bus, path, iface, method, args, self._vt(rtype),
                                Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return r.unpack() if r is not None else None

    def batch(self, calls, max_inflight=200, timeout_ms=10000):
        """Pipelines calls [(bus, path, iface, method, args, rtype)]; each result is the
        unpacked reply or the exception."""
        results = [None] * len(calls)
        pending = [0]

        def done(conn, res, i):
            try:
                results[i] = conn.call_finish(res).unpack()
            except Exception as e:  # object gone, method unsupported, ...
                results[i] = e
            pending[0] -= 1

        i = 0
        while i < len(calls) or pending[0]:
            while i < len(calls) and pending[0] < max_inflight:
                bus, path, iface, method, args, rtype = calls[i]
                self.conn.call(bus, path, iface, method, args, self._vt(rtype),
                               Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None, done, i)
                pending[0] += 1
                i += 1
            self.ctx.iteration(True)
        return results

    def apps(self):
        """(bus, path) of every application registered on the desktop."""
        try:
            return [tuple(x) for x in self.call(REGISTRY, ROOT_PATH, ACC, "GetChildren",
                                                None, "(a(so))", 2000)[0]]
        except GLib.Error:
            return []

    def pid_of(self, bus):
        try:
            return self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                             GLib.Variant("(s)", (bus,)), "(u)", 2000)[0]
        except GLib.Error:
            return None


class Acc:
    """One accessible object. Every property is read from the application when asked."""

    __slots__ = ("bus", "a11y", "path")

    def __init__(self, a11y, bus, path):
        self.a11y, self.bus, self.path = a11y, bus, path

    def __eq__(self, other):
        return isinstance(other, Acc) and (self.bus, self.path) == (other.bus, other.path)

    def __hash__(self):
        return hash((self.bus, self.path))

    def __repr__(self):
        try:
            return "<%s %r>" % (role_name(self.role), self.name)
        except GLib.Error:
            return "<gone %s>" % self.path

    def _call(self, iface, method, args=None, rtype=None, timeout_ms=5000):
        return self.a11y.call(self.bus, self.path, iface, method, args, rtype, timeout_ms)

    def _prop(self, name, iface=ACC):
        return self._call(PROPS, "Get", GLib.Variant("(ss)", (iface, name)), "(v)")[0]

    @property
    def name(self):
        return self._prop("Name") or ""

    @property
    def description(self):
        return self._prop("Description") or ""

    @property
    def role(self):
        return self._call(ACC, "GetRole", None, "(u)")[0]

    @property
    def states(self):
        return _state_set(self._call(ACC, "GetState", None, "(au)")[0])

    def has_state(self, state):
        return state in self.states

    @property
    def sensitive(self):
        st = self.states
        return SENSITIVE in st and ENABLED in st

    @property
    def parent(self):
        bus, path = self._prop("Parent")
        return None if path == NULL_PATH else Acc(self.a11y, bus, path)

    def children(self):
        try:
            kids = self._call(ACC, "GetChildren", None, "(a(so))")[0]
        except GLib.Error:
            n = self._prop("ChildCount")
            kids = [self._call(ACC, "GetChildAtIndex", GLib.Variant("(i)", (i,)), "((so))")[0]
                    for i in range(n)]
        return [Acc(self.a11y, b, p) for b, p in kids if p != NULL_PATH]

    def interfaces(self):
        return self._call(ACC, "GetInterfaces", None, "(as)")[0]

    # -- Action ------------------------------------------------------------------------------
    def actions(self):
        try:
            return [a[0] for a in self._call(ACTION, "GetActions", None, "(a(sss))")[0]]
        except GLib.Error:
            return []

    def do_action(self, name_or_index=0):
        acts = self.actions()
        if isinstance(name_or_index, str):
            if name_or_index not in acts:
                raise HarnessError("%r has no action %r (has %s)" % (self, name_or_index, acts))
            idx = acts.index(name_or_index)
        else:
            idx = name_or_index
        return self._call(ACTION, "DoAction", GLib.Variant("(i)", (idx,)), "(b)")[0]

    # -- Text --------------------------------------------------------------------------------
    @property
    def text(self):
        n = self._prop("CharacterCount", TEXT)
        return self._call(TEXT, "GetText", GLib.Variant("(ii)", (0, n)), "(s)")[0]

    def set_text(self, text):
        return self._call(EDITABLE, "SetTextContents", GLib.Variant("(s)", (text,)), "(b)")[0]

    # -- Selection / Component ---------------------------------------------------------------
    def select_child(self, index):
        return self._call(SELECTION, "SelectChild", GLib.Variant("(i)", (index,)), "(b)")[0]

    def index_in_parent(self):
        return self._call(ACC, "GetIndexInParent", None, "(i)")[0]

    def extents(self, coord_type=0):
        """(x, y, width, height); coord_type 0 screen, 1 window."""
        return tuple(self._call(COMPONENT, "GetExtents", GLib.Variant("(u)", (coord_type,)),
                                "((iiii))")[0])

    def grab_focus(self):
        return self._call(COMPONENT, "GrabFocus", None, "(b)")[0]


class Node:
    """One accessible as seen by a snapshot."""

    __slots__ = ("acc", "name", "role", "parent", "depth", "children")

    def __init__(self, acc, name, role, parent, depth):
        self.acc, self.name, self.role, self.parent, self.depth = acc, name, role, parent, depth
        self.children = []

    def __repr__(self):
        return "<%s %r>" % (role_name(self.role), self.name)

    def text(self):
        """This node's name and those of all its descendants, one per line."""
        out, stack = [], [self]
        while stack:
            n = stack.pop()
            if n.name:
                out.append(n.name)
            stack.extend(reversed(n.children))
        return "\n".join(out)


def snapshot(root, max_depth=64, max_nodes=20000):
    """Breadth-first snapshot of the subtree under `root` (an Acc): names, roles and the
    shape, read with pipelined calls (three per accessible). Returns the root Node."""
    a11y = root.a11y
    vname = GLib.Variant("(ss)", (ACC, "Name"))
    top = None
    level = [(root, None)]
    depth, count = 0, 0
    while level and count < max_nodes:
        calls = []
        for acc, _ in level:
            calls.append((acc.bus, acc.path, PROPS, "Get", vname, "(v)"))
            calls.append((acc.bus, acc.path, ACC, "GetRole", None, "(u)"))
            calls.append((acc.bus, acc.path, ACC, "GetChildren", None, "(a(so))"))
        res = a11y.batch(calls)
        nxt = []
        for k, (acc, parent) in enumerate(level):
            name, role, kids = res[3 * k], res[3 * k + 1], res[3 * k + 2]
            if isinstance(name, Exception) or isinstance(role, Exception):
                continue  # vanished while we looked
            node = Node(acc, name[0] or "", role[0], parent, depth)
            count += 1
            if parent is None:
                top = node
            else:
                parent.children.append(node)
            if depth >= max_depth:
                continue
            if isinstance(kids, Exception):
                try:
                    kid_accs = acc.children()
                except GLib.Error:
                    kid_accs = []
            else:
                kid_accs = [Acc(a11y, b, p) for b, p in kids[0] if p != NULL_PATH]
            nxt.extend((k_acc, node) for k_acc in kid_accs)
        level = nxt
        depth += 1
    return top


def walk(node):
    stack = [node]
    while stack:
        n = stack.pop(0)
        yield n
        stack[0:0] = n.children


def format_tree(node, max_lines=400):
    lines = []
    for n in walk(node):
        if len(lines) >= max_lines:
            lines.append("  ... (more)")
            break
        lines.append("%s%s %r" % ("  " * n.depth, role_name(n.role), n.name))
    return "\n".join(lines)


def find_nodes(tree, role=None, name=None, states=(), limit=None):
    """Nodes of a snapshot with a role in `role` and a name matching `name` whose states
    include all of `states` (states are read only for candidates)."""
    roles = _roles(role)
    match = _matcher(name)
    out = []
    for n in walk(tree):
        if roles is not None and n.role not in roles:
            continue
        if not match(n.name):
            continue
        if states:
            try:
                st = n.acc.states
            except GLib.Error:
                continue
            if not all(s in st for s in states):
                continue
        out.append(n)
        if limit and len(out) >= limit:
            break
    return out


def describe(role, name, states=()):
    parts = [role or "any role"]
    if name is not None:
        parts.append("named %r" % (name.pattern if isinstance(name, re.Pattern) else name))
    if states:
        parts.append("with states %s" % state_names(states))
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# The session
# --------------------------------------------------------------------------------------------

def _require(tool, package):
    path = shutil.which(tool) or (tool if os.path.isabs(tool) and os.access(tool, os.X_OK)
                                  else None)
    if not path:
        raise HarnessError("`%s` is not installed (Debian package %s); run scripts/setup-deps.sh"
                           % (tool, package))
    return path


def _read_line(fd, timeout, what):
    """One line from a pipe, or HarnessError after `timeout` seconds."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise HarnessError("%s: nothing after %.0fs" % (what, timeout))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 256)
            if not chunk:
                raise HarnessError("%s: pipe closed (%r)" % (what, buf))
            buf += chunk
    return buf.decode().strip()


class Session:
    """Xvfb + private D-Bus session + AT-SPI bus. Use as a context manager or call close()."""

    def __init__(self, geometry="1280x800x24", keep_tmp=False):
        self.geometry = geometry
        self.keep_tmp = keep_tmp or os.environ.get("VIREO_GUI_KEEP_TMP") == "1"
        self.procs = []  # (name, Popen), in start order
        self.apps = []
        self.tmp = None
        self.display = None
        self.a11y = None
        self._cleanup_entry = None
        self._closed = False
        self._start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- start -------------------------------------------------------------------------------
    def _start(self):
        become_subreaper()
        xvfb = _require("Xvfb", "xvfb")
        dbus = _require("dbus-daemon", "dbus")
        launcher = _require("/usr/libexec/at-spi-bus-launcher", "at-spi2-core")
        self.tmp = tempfile.mkdtemp(prefix="vireo-gui.")
        self._cleanup_entry = add_cleanup(self.close)
        try:
            self._start_xvfb(xvfb)
            self._start_dbus(dbus)
            self._start_a11y(launcher)
        except BaseException:
            self.close()
            raise

    def _logfile(self, name):
        return open(os.path.join(self.tmp, name + ".log"), "ab")

    def _spawn(self, name, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        if "stdout" not in kw:
            kw["stdout"] = self._logfile(name)
        kw.setdefault("stderr", kw["stdout"])
        p = subprocess.Popen(argv, **kw)
        self.procs.append((name, p))
        return p

    def _start_xvfb(self, xvfb):
        r, w = os.pipe()
        try:
            self._spawn("xvfb", [xvfb, "-displayfd", str(w), "-screen", "0", self.geometry,
                                 "-nolisten", "tcp", "-noreset", "+extension", "XTEST"],
                        pass_fds=(w,))
            os.close(w)
            w = None
            num = _read_line(r, 30, "Xvfb -displayfd")
        finally:
            os.close(r)
            if w is not None:
                os.close(w)
        self.display = ":" + num

    def base_env(self):
        """The environment of everything in the session: private display, buses, XDG dirs,
        English, settings in memory, the cairo renderer, AT-SPI on."""
        env = dict(os.environ)
        for k in ("NO_AT_BRIDGE", "AT_SPI_BUS_ADDRESS", "WAYLAND_DISPLAY", "GTK_MODULES",
                  "DBUS_SESSION_BUS_PID", "SESSION_MANAGER", "XAUTHORITY", "LC_ALL",
                  "LC_MESSAGES", "GTK_THEME", "GDK_SCALE"):
            env.pop(k, None)
        env.update({
            "DISPLAY": self.display,
            "GDK_BACKEND": "x11",
            "GSK_RENDERER": "cairo",
            "GTK_A11Y": "atspi",
            "LANGUAGE": "C",
            "LANG": "C.UTF-8",
            "GSETTINGS_BACKEND": "memory",
            "GTK_USE_PORTAL": "0",
            "GIO_USE_VFS": "local",
        })
        for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                         ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state"),
                         ("XDG_RUNTIME_DIR", "runtime")):
            d = os.path.join(self.tmp, sub)
            os.makedirs(d, mode=0o700, exist_ok=True)
            env[var] = d
        if getattr(self, "bus_address", None):
            env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        return env

    def _start_dbus(self, dbus):
        env = self.base_env()
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        sock = os.path.join(self.tmp, "bus")
        p = self._spawn("dbus-session", [dbus, "--session", "--nofork", "--nopidfile",
                                         "--address=unix:path=" + sock, "--print-address=1"],
                        stdout=subprocess.PIPE, stderr=self._logfile("dbus-session"), env=env)
        self.bus_address = _read_line(p.stdout.fileno(), 30, "dbus-daemon --print-address")

    def _start_a11y(self, launcher):
        env = self.base_env()
        self._spawn("at-spi-bus-launcher", [launcher, "--launch-immediately"], env=env)
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                 | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        session = Gio.DBusConnection.new_for_address_sync(self.bus_address, flags, None, None)
        self._session_conn = session
        deadline = time.monotonic() + 30
        addr, last = None, None
        while time.monotonic() < deadline:
            try:
                # NO_AUTO_START: wait for our launcher, never have a second one activated.
                r = session.call_sync("org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus",
                                      "GetAddress", None, GLib.VariantType("(s)"),
                                      Gio.DBusCallFlags.NO_AUTO_START, 2000, None)
                addr = r.unpack()[0]
                if addr:
                    break
            except GLib.Error as e:
                last = e
            time.sleep(0.05)
        if not addr:
            raise HarnessError("the AT-SPI bus did not come up: %s" % last)
        self.a11y_address = addr
        self.a11y = A11yBus(addr)
        while time.monotonic() < deadline:
            try:
                self.a11y.call(REGISTRY, ROOT_PATH, ACC, "GetChildren", None, "(a(so))", 2000)
                return
            except GLib.Error as e:
                last = e
                time.sleep(0.05)
        raise HarnessError("the AT-SPI registry does not answer: %s" % last)

    # -- applications ------------------------------------------------------------------------
    def launch(self, argv, env=None, settings=None, name="vireo"):
        """Starts a program (argv[0] is its path) in the session; returns an App.
        `settings` {key: GVariant text} switches GSettings to a keyfile backend in the
        session's private config dir with these values (written for both the release and
        the development app id)."""
        e = self.base_env()
        if settings:
            e["GSETTINGS_BACKEND"] = "keyfile"
            d = os.path.join(e["XDG_CONFIG_HOME"], "glib-2.0", "settings")
            os.makedirs(d, exist_ok=True)
            body = "".join("%s=%s\n" % kv for kv in settings.items())
            with open(os.path.join(d, "keyfile"), "w") as f:
                for group in ("dev/vireo/Vireo", "dev/vireo/Vireo/Devel"):
                    f.write("[%s]\n%s\n" % (group, body))
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        logpath = os.path.join(self.tmp, "%s-%d.log" % (name, len(self.apps)))
        out = open(logpath, "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(list(argv), env=e, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        app = App(self, proc, list(argv), logpath, t0)
        self.apps.append(app)
        log("launched %s (pid %d)" % (" ".join(argv), proc.pid))
        return app

    # -- screenshots -------------------------------------------------------------------------
    def screenshot(self, path, window_id=None):
        """PNG of the whole screen (or one X window id) via xwd + ImageMagick."""
        xwd = _require("xwd", "x11-apps")
        convert = _require("convert", "imagemagick")
        target = ["-id", str(window_id)] if window_id else ["-root"]
        raw = subprocess.run([xwd, "-silent", "-display", self.display] + target,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        subprocess.run([convert, "xwd:-", "png:" + path], input=raw, check=True,
                       stderr=subprocess.PIPE)
        return path

    # -- teardown ----------------------------------------------------------------------------
    def close(self):
        if self._closed:
            return
        self._closed = True
        for app in reversed(self.apps):
            app.stop()
        for name, p in reversed(self.procs):
            # the launcher first tears down the a11y bus it started
            stop_process(p, name)
            if getattr(p, "stdout", None):
                try:
                    p.stdout.close()
                except OSError:
                    pass
        # Anything left that we started transitively (registry daemon, activated services):
        # our descendants, by PID.
        left = descendants(os.getpid())
        if left:
            stop_pids(left)
        _reap()
        if self._cleanup_entry:
            remove_cleanup(self._cleanup_entry)
        if self.tmp and not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            log("session files kept in %s" % self.tmp)


class App:
    """An application started by Session.launch."""

    def __init__(self, session, proc, argv, logpath, t0):
        self.session, self.proc, self.argv, self.logpath, self.t0 = session, proc, argv, logpath, t0
        self.a11y = session.a11y
        self.pid = proc.pid
        self.bus = None
        self._root = None

    # -- process -----------------------------------------------------------------------------
    def running(self):
        return self.proc.poll() is None

    def output(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        kids = descendants(self.pid) if self.running() else []
        stop_process(self.proc, os.path.basename(self.argv[0]))
        if kids:
            stop_pids(kids)

    def _check_alive(self, what):
        if not self.running():
            raise HarnessError("%s exited with status %s while waiting for %s; its output:\n%s"
                               % (self.argv[0], self.proc.returncode, what, self.output()[-4000:]))

    # -- accessibility root ------------------------------------------------------------------
    @property
    def root(self):
        if self._root is None:
            self.wait_registered()
        return self._root

    def wait_registered(self, timeout=30):
        """Waits until the process is on the AT-SPI desktop; returns the application Acc."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive("its accessibility root")
            for bus, path in self.a11y.apps():
                if self.a11y.pid_of(bus) == self.pid:
                    self.bus = bus
                    self._root = Acc(self.a11y, bus, ROOT_PATH)
                    return self._root
            if time.monotonic() > deadline:
                raise WaitTimeout("%s (pid %d) did not appear on the AT-SPI desktop within %ss "
                                  "(GTK_A11Y=atspi?); its output:\n%s"
                                  % (self.argv[0], self.pid, timeout, self.output()[-4000:]))
            time.sleep(0.05)

    def toplevels(self, showing=True):
        out = []
        for acc in self.root.children():
            try:
                if acc.role in TOPLEVEL_ROLES and (not showing or SHOWING in acc.states):
                    out.append(acc)
            except GLib.Error:
                pass
        return out

    def wait_window(self, name=None, timeout=30):
        """Waits for a showing top-level window (optionally with a name matching `name`);
        returns (Acc, seconds since launch)."""
        match = _matcher(name)
        deadline = time.monotonic() + timeout
        self.wait_registered(timeout)
        while True:
            self._check_alive("its window")
            for w in self.toplevels():
                try:
                    if match(w.name):
                        return w, time.monotonic() - self.t0
                except GLib.Error:
                    pass
            if time.monotonic() > deadline:
                raise WaitTimeout("no showing window%s within %ss; the tree:\n%s" % (
                    " named %r" % name if name else "", timeout, self.dump()))
            time.sleep(0.02)

    # -- reading the tree --------------------------------------------------------------------
    def tree(self, root=None):
        return snapshot(root or self.root)

    def dump(self, root=None):
        try:
            t = self.tree(root)
            return format_tree(t) if t else "(empty)"
        except GLib.Error as e:
            return "(cannot read the tree: %s)" % e

    def find(self, role=None, name=None, states=(), root=None):
        """The first matching Acc (breadth first) or None."""
        t = self.tree(root)
        nodes = find_nodes(t, role, name, states, limit=1) if t else []
        return nodes[0].acc if nodes else None

    def find_all(self, role=None, name=None, states=(), root=None):
        t = self.tree(root)
        return [n.acc for n in find_nodes(t, role, name, states)] if t else []

    def wait_for(self, role=None, name=None, timeout=10.0, states=(SHOWING,), root=None,
                 poll=0.05):
        """Polls the tree until an accessible with that role and name (re.fullmatch) and
        those states exists; returns its Acc. On timeout the message holds the tree."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(describe(role, name, states))
            try:
                t = self.tree(root)
                nodes = find_nodes(t, role, name, states, limit=1) if t else []
            except GLib.Error:
                nodes, t = [], None
            if nodes:
                return nodes[0].acc
            if time.monotonic() > deadline:
                raise WaitTimeout("no %s within %ss; the tree:\n%s" % (
                    describe(role, name, states), timeout, format_tree(t) if t else "(none)"))
            time.sleep(poll)

    def wait_gone(self, role=None, name=None, timeout=10.0, root=None, poll=0.05):
        deadline = time.monotonic() + timeout
        while True:
            t = self.tree(root)
            if not (t and find_nodes(t, role, name, (SHOWING,), limit=1)):
                return
            if time.monotonic() > deadline:
                raise WaitTimeout("%s still there after %ss" % (describe(role, name), timeout))
            time.sleep(poll)

    def wait_until(self, fn, timeout=10.0, what="condition", poll=0.05):
        """Polls fn() (exceptions count as false) until truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self._check_alive(what)
            try:
                v = fn()
                if v:
                    return v
                last = v
            except (GLib.Error, LookupError) as e:
                last = e
            if time.monotonic() > deadline:
                raise WaitTimeout("%s not reached within %ss (last: %r)" % (what, timeout, last))
            time.sleep(poll)

    # -- acting ------------------------------------------------------------------------------
    CLICK_ACTIONS = ("click", "press", "activate", "toggle", "select")

    def click(self, acc):
        """Activates a control the way an assistive technology does: its AT-SPI action
        (click/press/activate/toggle), else a synthesized mouse click at its centre."""
        acts = acc.actions()
        for want in self.CLICK_ACTIONS:
            if want in acts:
                if acc.do_action(acts.index(want)):
                    return "action:" + want
        if acts:
            if acc.do_action(0):
                return "action:" + acts[0]
        self.mouse_click(acc)
        return "mouse"

    def mouse_click(self, acc, button=1):
        """A click at the centre of the accessible's extents, synthesized by the registry
        daemon (XTest). GTK 4.8 reports extents relative to its window; with no window
        manager on our Xvfb the window sits at the origin, so these are screen coordinates."""
        x, y, w, h = acc.extents(1)
        if w <= 0 or h <= 0:
            raise HarnessError("%r has no extents to click (%d,%d %dx%d)" % (acc, x, y, w, h))
        self.a11y.call(REGISTRY, DEC_PATH, DEC, "GenerateMouseEvent",
                       GLib.Variant("(iis)", (x + w // 2, y + h // 2, "b%dc" % button)), None)

    def type_text(self, acc, text):
        """Replaces the contents of a text entry (EditableText), else types into it."""
        try:
            if acc.set_text(text):
                return
        except GLib.Error:
            pass
        acc.grab_focus()
        self.a11y.call(REGISTRY, DEC_PATH, DEC, "GenerateKeyboardEvent",
                       GLib.Variant("(isu)", (0, text, int(Atspi.KeySynthType.STRING))), None)

    def select_row(self, row):
        """Selects (and so activates, for a navigation list) a list row: the list's
        Selection interface, else the row's own action, else a mouse click."""
        try:
            parent = row.parent
            if parent is not None and SELECTION in parent.interfaces():
                if parent.select_child(row.index_in_parent()):
                    return "selection"
        except GLib.Error:
            pass
        return self.click(row)

    def screenshot(self, path):
        return self.session.screenshot(path)


# --------------------------------------------------------------------------------------------
# Vireo-specific helpers (docs/accessibility.md)
# --------------------------------------------------------------------------------------------

STATES = ("Running", "Paused", "Shut off", "Saved", "Crashed", "Suspended", "Shutting down")


def row_name(vm, state=None):
    """Pattern of the accessible name of a VM row: `NAME, STATE`."""
    return re.compile(re.escape(vm) + ", " + (re.escape(state) if state else ".+"))


def vm_count(app, timeout=10.0):
    """N from the list's name `Virtual machines: N` (0 for `none`)."""
    acc = app.wait_for("list", r"Virtual machines: (\d+|none)", timeout)
    m = re.fullmatch(r"Virtual machines: (\d+|none)", acc.name)
    return 0 if m.group(1) == "none" else int(m.group(1))


def reveal_row(app, vm, timeout=20.0):
    """The row of `vm`. Rows of a GTK list view exist in the tree only while on screen: if
    the row is not there once the list has rows, the list is filtered with the search
    entry (`Search` toggle, `Search virtual machines`) so that it is."""
    pattern = row_name(vm)
    deadline = time.monotonic() + timeout
    app.wait_for("list", re.compile(r"Virtual machines: \d+"), timeout)
    row = app.find("list item", pattern, (SHOWING,))
    if row:
        return row
    entry = app.find("text", "Search virtual machines", (SHOWING,))
    if entry is None:
        app.click(app.wait_for("toggle button", "Search", max(1.0, deadline - time.monotonic())))
        entry = app.wait_for("text", "Search virtual machines",
                             max(1.0, deadline - time.monotonic()))
    app.type_text(entry, vm)
    return app.wait_for("list item", pattern, max(1.0, deadline - time.monotonic()))


def wait_row_state(app, vm, state, timeout=10.0, poll=0.02):
    """Waits until the row of `vm` reads `NAME, STATE`; returns the Acc."""
    return app.wait_for("list item", row_name(vm, state), timeout, poll=poll)


# --------------------------------------------------------------------------------------------
# Test scripts
# --------------------------------------------------------------------------------------------

class Skip(Exception):
    """A precondition is legitimately absent: the script prints SKIPPED and exits 0."""


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def vireo_binary(argv=None):
    """The binary under test: argv[1], else $VIREO_BIN, else target/debug/vireo."""
    argv = sys.argv if argv is None else argv
    path = argv[1] if len(argv) > 1 else os.environ.get(
        "VIREO_BIN", os.path.join(repo_root(), "target", "debug", "vireo"))
    if not os.access(path, os.X_OK):
        raise HarnessError("no vireo binary at %s (cargo build --bin vireo)" % path)
    return os.path.abspath(path)


def main(test):
    """Runs test(vireo_path) and turns the outcome into the exit status the cargo
    integration test expects: 0 pass or SKIPPED, 1 failure."""
    name = os.path.basename(sys.argv[0])
    t0 = time.monotonic()
    try:
        test(vireo_binary())
    except Skip as e:
        print("SKIPPED: %s" % e, flush=True)
        run_cleanups()
        sys.exit(0)
    except SystemExit:
        run_cleanups()
        raise
    except BaseException as e:
        import traceback
        traceback.print_exc()
        print("FAILED: %s: %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e)
                                      else ""), flush=True)
        run_cleanups()
        sys.exit(1)
    run_cleanups()
    print("PASSED: %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
    sys.exit(0)
