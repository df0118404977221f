"""Debian's python3-torch is installed for /usr/bin/python3 only; a pyenv or venv python does not
see it. Scripts that need torch call `rerun_under_system_python()` when their imports fail, and
`add_oracle_dir()` first, so the packages scripts/test.sh installs for that python (transformers,
into a folder of their own) are found after Debian's own.
"""
import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
# scripts/test.sh: pip install --target here (tests/requirements-system-python.txt).
ORACLE_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                          "winnow", "python-system")
_RERUN_FLAG = "WINNOW_SYSTEM_PYTHON_RERUN"


def add_oracle_dir():
    """Appends ORACLE_DIR to sys.path (after site-packages: Debian's numpy and torch come first)."""
    if os.path.isdir(ORACLE_DIR):
        sys.path.append(ORACLE_DIR)


def rerun_under_system_python():
    """Replaces this process with the same script under /usr/bin/python3, once; returns only when
    that is not possible (already there, or it is missing)."""
    if (os.path.exists(SYSTEM_PYTHON) and
            os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and
            not os.environ.get(_RERUN_FLAG)):
        os.environ[_RERUN_FLAG] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
