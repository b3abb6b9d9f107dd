"""Run a ``manage.py`` command in a process booted ahead of time, once a file appears.

``python -m tests.gated READY GO args...`` sets Django up, touches ``READY``, waits for
``GO`` to exist, then runs ``manage.py args...``. Races between commands then start
when the test says, not when each interpreter has finished importing Django.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> None:
    ready, go, *args = sys.argv[1:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings_reliability")
    import django

    django.setup()
    from django.core.management import execute_from_command_line, get_commands, load_command_class

    load_command_class(get_commands()[args[0]], args[0])  # imported before the race
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.005)
    execute_from_command_line(["manage.py", *args])


if __name__ == "__main__":
    main()
