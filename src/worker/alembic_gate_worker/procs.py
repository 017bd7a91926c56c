"""The processes user code starts: they end with the worker."""

import os
import sys
import time

from . import protocol


# --- the processes user code starts -------------------------------------------------------
PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper():
    """Orphaned descendants are re-parented to us, so _kill_descendants finds them all."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass


def _process_table():
    """{pid: (ppid, state)} from /proc."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read()
            rest = data[data.rindex(b")") + 2 :].split()
            table[int(name)] = (int(rest[1]), rest[0].decode())
        except (OSError, ValueError, IndexError):
            continue
    return table


def _descendants(root):
    table = _process_table()
    children = {}
    for pid, (ppid, state) in table.items():
        children.setdefault(ppid, []).append((pid, state))
    found, stack = [], [root]
    while stack:
        for pid, state in children.get(stack.pop(), ()):
            found.append((pid, state))
            stack.append(pid)
    return found


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except OSError:
            return
        if pid == 0:
            return


def _kill_descendants():
    """Stop every descendant (so none forks while we look), kill them, reap what is ours."""
    import signal

    me = os.getpid()
    for _ in range(50):
        live = [pid for pid, state in _descendants(me) if state not in ("Z", "X")]
        if not live:
            break
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in live:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        time.sleep(0.005)
        _reap()
    _reap()


def _watch_gate():
    """The gate closed its end of the request channel (it exited or was killed): end now."""
    import select
    import threading

    def watch():
        try:
            poller = select.poll()
            poller.register(protocol._request_fd, getattr(select, "POLLRDHUP", 0) | select.POLLHUP)
            while True:
                events = poller.poll()
                if any(ev & (select.POLLHUP | getattr(select, "POLLRDHUP", 0) | select.POLLERR | select.POLLNVAL) for _, ev in events):
                    break
        except Exception:
            return
        _kill_descendants()
        os._exit(0)

    threading.Thread(target=watch, name="alembic-gate-watchdog", daemon=True).start()


def _exit(code):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    _kill_descendants()
    # Skip interpreter teardown (module and GC finalisation of SQLAlchemy, the project's
    # models, pools): the gate has what it needs, and teardown costs a tenth of a second.
    os._exit(code)
