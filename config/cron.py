"""Periodic jobs, run by `python manage.py rqcron config.cron` (RQ's cron scheduler).

Each entry is a safety net over state kept in the database, so a missed or doubled tick is
harmless: the jobs re-read the database and act only on what is still due.
"""

from rq import cron  # noqa: F401  (jobs register themselves below)
