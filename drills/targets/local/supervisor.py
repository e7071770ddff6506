"""Keep the embedded cluster's pods from outliving their control plane unnoticed.

Run as ``python -m drills.targets.local.supervisor DIR`` (``drillbook up`` starts it in the background). It
runs the controller as its child and writes the child's pid to ``controller.pid``. When the controller dies
(``kill -9``, a crash), its pods are still running, re-parented to init and holding their addresses; the
supervisor stops every process left in the sandbox's cgroup tree (:func:`sandbox.stop_leftovers`) and only
then starts a new controller, which creates the pods afresh: a restarted control plane replaces what it finds
rather than running beside it. ``SIGTERM`` stops the controller (which stops its pods) and then the supervisor.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from drills.targets.local import sandbox
from drills.targets.local.runtime import utc

STABLE_S = 60.0  # a controller that ran this long is restarted at once; one that dies sooner waits longer
BACKOFF_CAP_S = 30.0


class Supervisor:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        failures = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            code = self._run_controller()
            if self.stopping.is_set():
                break
            failures = 0 if time.monotonic() - started > STABLE_S else failures + 1
            delay = min(BACKOFF_CAP_S, 0.5 * 2 ** (failures - 1)) if failures else 0.0
            _say(f"controller exited ({code}); stopping its pods, restarting it in {delay:.1f}s")
            self._stop_leftovers()
            self.stopping.wait(delay)
        self._stop_leftovers()

    def _run_controller(self) -> int:
        """Start a controller on a clean cgroup tree and wait for it to exit."""
        self._stop_leftovers()
        with open(self.root / "controller.log", "ab") as log:
            self.child = subprocess.Popen([sys.executable, "-m", "drills.targets.local.controller", str(self.root)],
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        (self.root / "controller.pid").write_text(str(self.child.pid))
        if self.stopping.is_set():  # SIGTERM arrived between the check and the start
            self.child.terminate()
        return self.child.wait()

    def _stop_leftovers(self) -> None:
        killed, remaining = sandbox.stop_leftovers(self.root)
        if killed or remaining:
            _say(f"stopped {killed} leftover process(es) of a dead controller"
                 + (f"; still running: {sorted(remaining)}" if remaining else ""))

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()  # the controller stops its pods on SIGTERM


def _say(message: str) -> None:
    print(f"{utc(time.time())} supervisor: {message}", file=sys.stderr, flush=True)


def main() -> None:
    Supervisor(Path(sys.argv[1])).run()


if __name__ == "__main__":
    main()
